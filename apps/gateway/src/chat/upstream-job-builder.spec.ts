/** Pass-through jobs: the body as sent minus what the gateway owns, one job per choice and prompt. */
import type { ModelDescriptor } from '@switchyard/contracts';
import { buildUpstreamChatJobs, buildUpstreamCompletionJobs, passesThrough } from './upstream-job-builder';

describe('upstream job builder', () => {
  it('keeps every field but model, stream, stream_options, n and keep_alive', () => {
    const body = {
      model: 'alias',
      stream: true,
      stream_options: { include_usage: true },
      n: 2,
      keep_alive: '5m',
      seed: 10,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }, { role: 'tool', tool_call_id: 'c', content: 'x' }],
      tools: [{ type: 'function', function: { name: 'f' } }],
      response_format: { type: 'json_object' },
      logprobs: true,
    };
    const jobs = buildUpstreamChatJobs(body, 'real-name', 2);
    expect(jobs).toHaveLength(2);
    expect(jobs[0]).toEqual({
      kind: 'upstream',
      endpoint: 'chat',
      model: 'real-name',
      enqueuedAt: 0,
      body: { seed: 10, messages: body.messages, tools: body.tools, response_format: body.response_format, logprobs: true },
    });
    expect(jobs[1].body.seed).toBe(11);
    // The request object itself is untouched.
    expect(body.n).toBe(2);
  });

  it('splits prompts and choices prompt-major, like OpenAI orders choices', () => {
    const jobs = buildUpstreamCompletionJobs({ model: 'm', prompt: ['a', 'b'], n: 2, echo: true }, 'm', 2);
    expect(jobs.map((j) => [j.endpoint, j.body.prompt, j.body.echo])).toEqual([
      ['completions', 'a', true],
      ['completions', 'a', true],
      ['completions', 'b', true],
      ['completions', 'b', true],
    ]);
    expect(buildUpstreamCompletionJobs({ model: 'm', prompt: [1, 2, 3] }, 'm', 1).map((j) => j.body.prompt)).toEqual([[1, 2, 3]]);
  });

  it('passes through for upstream models and runners in front of a local server only', () => {
    const base = { name: 'x', aliases: [], contextSize: 0, maxQueue: 1, autoLoad: false, preload: false, keepAliveMs: -1, created: 0, ownedBy: 'o' };
    expect(passesThrough({ ...base, backend: 'upstream', deployments: [], routing: 'fallback', concurrency: 1 })).toBe(true);
    expect(passesThrough({ ...base, backend: 'runner', format: 'upstream', parallel: 1 })).toBe(true);
    expect(passesThrough({ ...base, backend: 'runner', format: 'llm', parallel: 1 })).toBe(false);
    expect(passesThrough({ ...base, backend: 'llama.cpp', path: '/m', parallel: 1, threads: 1, gpuLayers: 0 } as unknown as ModelDescriptor)).toBe(false);
  });
});
