/**
 * The runner endpoint over TLS, end to end: a gateway serving gRPC with a certificate made at test
 * time (openssl), a runner that trusts it serves through it, and runners that speak plaintext or do
 * not trust the certificate never get in.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { freePort, startApp, stopProcess, waitUntil } from '@switchyard/runtime';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai';
import { ROOT, startStack, type Stack } from './support/stack';

jest.setTimeout(120_000);

const TOKEN = 'rt-tls-token-51';

describe('runner over TLS (e2e)', () => {
  let fake: FakeOpenAI;
  let stack: Stack;
  let dir: string;
  let base: Record<string, string>;
  const runners: ChildProcess[] = [];
  const logs: string[] = [];

  const modelIds = async (): Promise<string[]> => ((await (await fetch(`${stack.baseUrl}/v1/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    dir = mkdtempSync(join(tmpdir(), 'switchyard-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const grpcPort = await freePort();
    stack = await startStack({
      models: [],
      noWorker: true,
      gatewayEnv: { RUNNER_GRPC_PORT: String(grpcPort), RUNNER_GRPC_HOST: '127.0.0.1', RUNNER_TOKENS: TOKEN, RUNNER_TLS_CERT: join(dir, 'cert.pem'), RUNNER_TLS_KEY: join(dir, 'key.pem'), LOG_LEVEL: 'info' },
    });
    const models = (name: string): string => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, `models:\n  - { name: ${name}, backend: upstream, base_url: "${fake.url}", upstream_model: echo }\n`);
      return file;
    };
    base = { RUNNER_GATEWAY: `127.0.0.1:${grpcPort}`, RUNNER_TOKEN: TOKEN, LOG_LEVEL: 'info' };
    runners.push(startApp(ROOT, 'runner', { ...base, RUNNER_NAME: 'plain', RUNNER_MODELS_FILE: models('plain-model') }, logs));
    runners.push(startApp(ROOT, 'runner', { ...base, RUNNER_NAME: 'untrusting', RUNNER_TLS: 'true', RUNNER_MODELS_FILE: models('untrusting-model') }, logs));
    // This one is configured by flags (one model of a local OpenAI-compatible server), as a user would.
    const secure = spawn(
      process.execPath,
      [join(ROOT, 'dist/apps/runner/src/main.js'), '--gateway', base.RUNNER_GATEWAY, '--tls', '--tls-ca', join(dir, 'cert.pem'), '--name', 'secure', '--openai-url', fake.url, '--model', 'secure-model', '--upstream-model', 'echo'],
      { env: { ...process.env, RUNNER_TOKEN: TOKEN, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    secure.stdout.on('data', (b: Buffer) => logs.push(`[secure] ${b.toString()}`));
    secure.stderr.on('data', (b: Buffer) => logs.push(`[secure] ${b.toString()}`));
    runners.push(secure);
  });
  afterAll(async () => {
    await Promise.all(runners.map((r) => stopProcess(r)));
    await stack?.stop();
    await fake?.close();
  });

  it('serves through a runner that trusts the certificate', async () => {
    await waitUntil(async () => (await modelIds()).includes('secure-model'), 30_000, 'the TLS runner', [...stack.logs, ...logs]);
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'secure-model', messages: [{ role: 'user', content: 'over tls' }] });
    expect(res.choices[0].message.content).toBe('echo: over tls');
  });

  it('keeps out a plaintext runner and one that does not trust the certificate (they keep retrying)', async () => {
    // Both have had as long as the secure one, and a few backoff rounds more.
    await new Promise((r) => setTimeout(r, 2000));
    const ids = await modelIds();
    expect(ids).not.toContain('plain-model');
    expect(ids).not.toContain('untrusting-model');
    expect(runners[0].exitCode).toBeNull();
    expect(runners[1].exitCode).toBeNull();
    expect(logs.join('')).toContain('reconnecting');
  });
});
