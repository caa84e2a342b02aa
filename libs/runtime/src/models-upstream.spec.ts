/** The models file's `backend: upstream` entries: inline and listed deployments, defaults, bad input. */
import type { UpstreamModelDescriptor } from '@switchyard/contracts';
import { ModelsFileError, parseModelsYaml } from './models-file';

function one(yaml: string): UpstreamModelDescriptor {
  const [m] = parseModelsYaml(`models:\n${yaml}`, '/base', 1);
  if (m.backend !== 'upstream') throw new Error('not upstream');
  return m;
}

describe('upstream entries', () => {
  it('reads one inline deployment with defaults', () => {
    const m = one(['  - name: gpt', '    backend: upstream', '    base_url: http://h:8000/v1/', '    api_key_env: OPENAI_API_KEY'].join('\n'));
    expect(m).toMatchObject({ name: 'gpt', routing: 'fallback', concurrency: 16, maxQueue: 256, contextSize: 0, autoLoad: false });
    expect(m.deployments).toEqual([
      { baseUrl: 'http://h:8000/v1', model: 'gpt', apiKeyEnv: 'OPENAI_API_KEY', connectTimeoutMs: 30_000, idleTimeoutMs: 600_000, headers: {}, weight: 1, stream: true, includeUsage: true },
    ]);
  });

  it('reads several deployments, with keys beside the list as their defaults', () => {
    const m = one(
      [
        '  - name: llama',
        '    backend: upstream',
        '    routing: balance',
        '    timeout: 20s',
        '    api_key: os.environ/SHARED_KEY',
        '    deployments:',
        '      - { base_url: "http://a/v1", upstream_model: "l-8b", weight: 3 }',
        '      - { base_url: "https://b/v1", idle_timeout: 5, headers: { x-a: "1" }, stream: false }',
      ].join('\n'),
    );
    expect(m.routing).toBe('balance');
    expect(m.deployments.map((d) => [d.baseUrl, d.model, d.apiKeyEnv, d.connectTimeoutMs, d.idleTimeoutMs, d.weight, d.stream])).toEqual([
      ['http://a/v1', 'l-8b', 'SHARED_KEY', 20_000, 20_000, 3, true],
      ['https://b/v1', 'llama', 'SHARED_KEY', 20_000, 5_000, 1, false],
    ]);
    expect(m.deployments[1].headers).toEqual({ 'x-a': '1' });
  });

  it.each([
    ['    base_url: ftp://x', "'base_url' must be http or https"],
    ['    base_url: not a url', "'base_url' is not a URL"],
    ['    upstream_model: x', "'base_url' (the upstream's /v1 URL) is required"],
    ['    base_url: http://x/v1\n    api_key: sk-literal', 'keys are never written in the file'],
    ['    base_url: http://x/v1\n    routing: random', "'routing' must be 'fallback' or 'balance'"],
    ['    base_url: http://x/v1\n    timeout: -3', "'timeout' must be a positive"],
    ['    deployments: []', "'deployments' must be a non-empty list"],
  ])('rejects %s', (extra, message) => {
    expect(() => one(`  - name: m\n    backend: upstream\n${extra}`)).toThrow(ModelsFileError);
    expect(() => one(`  - name: m\n    backend: upstream\n${extra}`)).toThrow(message);
  });

  it('keeps names unique across backends', () => {
    expect(() => parseModelsYaml('models:\n  - { name: a, path: a.gguf, threads: 1 }\n  - { name: b, aliases: [a], backend: upstream, base_url: "http://x/v1" }\n', '/')).toThrow("name 'a' is used by both");
  });
});
