/**
 * Remote runners, end to end: a gateway (with its gRPC runner endpoint) and a runner as separate
 * processes on loopback, real Redis and BullMQ. The runner serves a generated GGUF in-process and two
 * models of a local OpenAI-compatible server (the scripted fake). Chat through the gateway is served
 * by the runner; a wrong token is refused; cancels reach the runner; the runner reconnects after the
 * gateway restarts; killing it mid-stream ends that stream with an error and removes its models.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Queue } from 'bullmq';
import { BACKENDS, REDIS_PREFIX } from '@switchyard/contracts';
import { readGgufHeader } from '@switchyard/model-gen';
import { freePort, startApp, stopProcess, waitUntil } from '@switchyard/runtime';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai';
import { ROOT, startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(180_000);

const TOKEN = 'rt-good-token-7f3a';
const WRONG = 'rt-wrong-token-c0ffee';

describe('remote runner (e2e)', () => {
  let fake: FakeOpenAI;
  let stack: Stack;
  let client: OpenAI;
  let grpcPort: number;
  let runnerEnv: Record<string, string>;
  let runner: ChildProcess | undefined;
  let chatModelPath: string;
  const runnerLogs: string[] = [];

  async function modelIds(): Promise<string[]> {
    const res = await fetch(`${stack.baseUrl}/v1/models`);
    return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
  }

  /** POSTs JSON to the gateway; the answer's JSON, or an error naming the status. */
  async function post(path: string, body: object): Promise<unknown> {
    const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json: unknown = await res.json();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  async function waitForModels(present: boolean): Promise<void> {
    await waitUntil(
      async () => {
        const ids = await modelIds();
        const all = ['laptop-chat', 'laptop-echo', 'laptop-slow', 'laptop-single'].every((m) => ids.includes(m));
        const none = !ids.some((m) => m.startsWith('laptop-'));
        return present ? all : none;
      },
      60_000,
      present ? 'the runner models to appear' : 'the runner models to go',
      [...stack.logs, ...runnerLogs],
    );
  }

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    grpcPort = await freePort();
    stack = await startStack({
      models: [],
      noWorker: true,
      gatewayEnv: { RUNNER_GRPC_PORT: String(grpcPort), RUNNER_GRPC_HOST: '127.0.0.1', RUNNER_TOKENS: `rt-other-token,${TOKEN}`, LOG_LEVEL: 'info' },
      // A model of the gateway's own file: no runner may take its name.
      extraModelsYaml: ['  - { name: file-model, aliases: [file-alias], backend: upstream, base_url: "http://127.0.0.1:9/v1" }'],
    });
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-runner-'));
    const modelsFile = join(dir, 'runner-models.yaml');
    chatModelPath = await tinyModel('tiny-chat');
    writeFileSync(
      modelsFile,
      [
        'models:',
        '  - name: laptop-chat',
        `    path: ${JSON.stringify(chatModelPath)}`,
        '    threads: 1',
        '    parallel: 2',
        '    context_size: 2048',
        '  - name: laptop-echo',
        '    backend: upstream',
        `    base_url: ${fake.url}`,
        '    upstream_model: echo',
        '  - name: laptop-slow',
        '    backend: upstream',
        `    base_url: ${fake.url}`,
        '    upstream_model: slow',
        '  - name: laptop-single',
        '    backend: upstream',
        `    base_url: ${fake.url}`,
        '    upstream_model: slow',
        '    concurrency: 1',
        '  - name: laptop-429',
        '    backend: upstream',
        `    base_url: ${fake.url}`,
        '    upstream_model: fail-429',
        '',
      ].join('\n'),
    );
    runnerEnv = { RUNNER_GATEWAY: `127.0.0.1:${grpcPort}`, RUNNER_TOKEN: TOKEN, RUNNER_NAME: 'laptop', RUNNER_MODELS_FILE: modelsFile, LLAMA_GPU: 'false', LOG_LEVEL: 'info' };
    runner = startApp(ROOT, 'runner', runnerEnv, runnerLogs);
    await waitForModels(true);
    client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await stopProcess(runner);
    await stack?.stop();
    await fake?.close();
  });

  it('serves a GGUF model on the runner, streamed and not', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hello' }];
    const { data: whole, response } = await client.chat.completions
      .create({ model: 'laptop-chat', messages, max_tokens: 8, temperature: 0, logprobs: true })
      .withResponse();
    expect(response.headers.get('x-switchyard-worker')).toMatch(/^runner-laptop-/);
    // Random weights: the words are unknown, but the answer is the tokens it reports, each counted.
    const content = whole.choices[0].message.content;
    const sampled = whole.choices[0].logprobs!.content!.map((t) => t.token);
    expect(sampled.join('')).toBe(content);
    expect(whole.usage?.completion_tokens).toBe(sampled.length);
    expect(whole.choices[0].finish_reason).toBe(sampled.length === 8 ? 'length' : 'stop');
    // The prompt counted is the model's ChatML template rendered for the messages, BOS first.
    const prompt = '<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n';
    const promptTokens = (await post('/tokenize', { model: 'laptop-chat', content: prompt, add_special: true })) as { tokens: number[] };
    expect(promptTokens.tokens[0]).toBe(1);
    expect(whole.usage?.prompt_tokens).toBe(promptTokens.tokens.length);

    const stream = await client.chat.completions.create({ model: 'laptop-chat', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8, temperature: 0, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    // Same prompt, greedy: the streamed text is the whole answer's, and it ends the same way.
    expect(text).toBe(content);
    expect(finish).toBe(whole.choices[0].finish_reason);
  });

  it('runs the llm worker engine on the runner: forced tool calls and token tools', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { utc: { type: 'boolean' } }, required: ['utc'] } } }];
    const res = await client.chat.completions.create({
      model: 'laptop-chat',
      messages: [{ role: 'user', content: 'time?' }],
      tools,
      tool_choice: { type: 'function', function: { name: 'get_time' } },
      // Random weights: the grammar forces the call's shape (a boolean keeps it short).
      max_tokens: 200,
      seed: 3,
    });
    const call = res.choices[0].message.tool_calls?.[0];
    expect(res.choices[0].finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function.name).toBe('get_time');
    expect(typeof (JSON.parse(call?.type === 'function' ? call.function.arguments : '') as { utc?: unknown }).utc).toBe('boolean');
    // The generated vocabulary has both words as whole pieces (SentencePiece's space marker first).
    const vocab = (await readGgufHeader(chatModelPath)).metadata['tokenizer.ggml.tokens'] as string[];
    const { tokens } = (await post('/tokenize', { model: 'laptop-chat', content: 'hello world' })) as { tokens: number[] };
    expect(tokens.map((id) => vocab[id])).toEqual(['\u2581hello', '\u2581world']);
    expect(((await post('/detokenize', { model: 'laptop-chat', tokens })) as { content: string }).content.trim()).toBe('hello world');
  });

  it('serves a local OpenAI-compatible server through the runner, tools and errors passed through', async () => {
    const res = await client.chat.completions.create({ model: 'laptop-echo', messages: [{ role: 'user', content: 'via the runner' }] });
    expect(res.choices[0].message.content).toBe('echo: via the runner');
    expect(fake.requests.at(-1)!.body.model).toBe('echo');
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'lookup' } }];
    const withTools = await client.chat.completions.create({ model: 'laptop-echo', messages: [{ role: 'user', content: 'x' }], tools });
    expect(withTools.choices[0].finish_reason).toBe('tool_calls');
    expect(fake.requests.at(-1)!.body.tools).toEqual(tools);
    // A failure on the runner's side comes back as the same OpenAI error, Retry-After included.
    const limited = (await client.chat.completions.create({ model: 'laptop-429', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited.headers?.get('retry-after')).toBe('7');
    // And so does a request the runner's GGUF model cannot take.
    const long = await client.chat.completions.create({ model: 'laptop-chat', messages: [{ role: 'user', content: 'word '.repeat(3000) }] }).catch((e: unknown) => e);
    expect(long).toBeInstanceOf(OpenAI.BadRequestError);
    expect((long as InstanceType<typeof OpenAI.APIError>).code).toBe('context_length_exceeded');
  });

  it('runs several requests at once and forwards cancels to the runner', async () => {
    const before = fake.requests.length;
    const aborts = [new AbortController(), new AbortController()];
    const readers = await Promise.all(
      aborts.map(async (a) => {
        const res = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'laptop-slow', messages: [{ role: 'user', content: 'x' }], stream: true }),
          signal: a.signal,
        });
        const reader = res.body!.getReader();
        await reader.read();
        return reader;
      }),
    );
    // Both upstream calls are open at the same time.
    await waitUntil(async () => fake.requests.length - before >= 2, 30_000, 'two upstream calls');
    const calls = fake.requests.slice(before);
    expect(calls.every((r) => !r.aborted)).toBe(true);
    const second = await readers[1].read();
    expect(second.done).toBe(false);
    aborts[0].abort();
    // Client gone → gateway cancel → runner aborts its upstream call.
    await waitUntil(async () => calls[0].aborted, 30_000, 'the cancel to reach the runner', runnerLogs);
    expect(calls[1].aborted).toBe(false);
    aborts[1].abort();
    await waitUntil(async () => calls[1].aborted, 30_000, 'the second cancel');
    // Chunks are still served afterwards (nothing stuck).
    const res = await client.chat.completions.create({ model: 'laptop-echo', messages: [{ role: 'user', content: 'after' }] });
    expect(res.choices[0].message.content).toBe('echo: after');
  });

  it('answers an admin unload of a runner model at once', async () => {
    const res = await fetch(`${stack.baseUrl}/admin/models/laptop-echo/unload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("remote runner 'laptop'");
  });

  it('refuses a runner with a wrong token, and never logs the token', async () => {
    const logs: string[] = [];
    const bad = startApp(ROOT, 'runner', { ...runnerEnv, RUNNER_TOKEN: WRONG, RUNNER_NAME: 'intruder' }, logs);
    const code = await new Promise<number | null>((resolve) => bad.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(logs.join('')).toContain('unauthenticated');
    await waitUntil(async () => stack.logs.join('').includes('wrong token'), 30_000, 'the refusal in the gateway log', stack.logs);
    expect(stack.logs.join('')).not.toContain(WRONG);
    expect(stack.logs.join('')).not.toContain(TOKEN);
    // It offered the same models as 'laptop': they are still served by 'laptop' alone.
    const m = (await (await fetch(`${stack.baseUrl}/admin/models`)).json()) as { data: Array<{ id: string; workers: Array<{ id: string }> }> };
    expect(m.data.find((x) => x.id === 'laptop-echo')?.workers.map((w) => w.id)).toEqual([expect.stringMatching(/^runner-laptop-/)]);
    expect(stack.logs.join('')).not.toContain('runner-intruder-');
  });

  it("refuses a runner that claims a name of the gateway's models file", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-conflict-'));
    const file = join(dir, 'm.yaml');
    writeFileSync(file, `models:\n  - { name: file-alias, backend: upstream, base_url: "${fake.url}" }\n`);
    const logs: string[] = [];
    const thief = startApp(ROOT, 'runner', { ...runnerEnv, RUNNER_NAME: 'thief', RUNNER_MODELS_FILE: file }, logs);
    const code = await new Promise<number | null>((resolve) => thief.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(logs.join('')).toContain('model_conflict');
    // The file's model is untouched (still the upstream entry, not a runner's).
    const m = (await (await fetch(`${stack.baseUrl}/admin/models`)).json()) as { data: Array<{ id: string; backend: string; workers: unknown[] }> };
    expect(m.data.find((x) => x.id === 'file-model')).toMatchObject({ backend: 'upstream', workers: [] });
  });

  it('reconnects after the gateway restarts', async () => {
    const port = new URL(stack.baseUrl).port;
    await stopProcess(stack.gateway);
    stack.gateway = startApp(
      ROOT,
      'gateway',
      { REDIS_URL: stack.redis.url, MODELS_FILE: stack.modelsFile, PORT: port, HOST: '127.0.0.1', WORKER_WAIT_MS: '2000', LOG_LEVEL: 'info', RUNNER_GRPC_PORT: String(grpcPort), RUNNER_GRPC_HOST: '127.0.0.1', RUNNER_TOKENS: TOKEN },
      stack.logs,
    );
    await waitForModels(true);
    const res = await client.chat.completions.create({ model: 'laptop-echo', messages: [{ role: 'user', content: 'back' }] });
    expect(res.choices[0].message.content).toBe('echo: back');
  });

  it('a job a dying runner had not started streaming moves to another runner of the model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-flaky-'));
    const file = (name: string, upstream: string): string => {
      const f = join(dir, `${name}.yaml`);
      writeFileSync(f, `models:\n  - { name: laptop-flaky, backend: upstream, base_url: "${fake.url}", upstream_model: ${upstream}, connect_timeout: 60s }\n`);
      return f;
    };
    const logs: string[] = [];
    // Runner A's upstream never answers; runner B's does.
    const a = startApp(ROOT, 'runner', { ...runnerEnv, RUNNER_NAME: 'flaky-a', RUNNER_MODELS_FILE: file('a', 'hang') }, logs);
    let b: ChildProcess | undefined;
    try {
      await waitUntil(async () => (await modelIds()).includes('laptop-flaky'), 30_000, 'runner A', logs);
      const before = fake.requests.length;
      const answer = client.chat.completions.create({ model: 'laptop-flaky', messages: [{ role: 'user', content: 'moved over' }] });
      await waitUntil(async () => fake.requests.slice(before).some((r) => r.body.model === 'hang'), 30_000, 'runner A to take the job', logs);
      b = startApp(ROOT, 'runner', { ...runnerEnv, RUNNER_NAME: 'flaky-b', RUNNER_MODELS_FILE: file('b', 'echo') }, logs);
      await waitUntil(
        async () => {
          const owners = ((await (await fetch(`${stack.baseUrl}/admin/models`)).json()) as { data: Array<{ id: string; workers: unknown[] }> }).data.find((m) => m.id === 'laptop-flaky');
          return (owners?.workers.length ?? 0) >= 2;
        },
        30_000,
        'runner B',
        [...stack.logs, ...logs],
      );
      a.kill('SIGKILL');
      const res = await answer;
      expect(res.choices[0].message.content).toBe('echo: moved over');
      expect(stack.logs.join('')).toContain('moving an unstarted job to another runner');
    } finally {
      a.kill('SIGKILL');
      await stopProcess(b);
    }
    await waitUntil(async () => !(await modelIds()).includes('laptop-flaky'), 30_000, 'laptop-flaky to go');
  });

  it('killing the runner mid-stream ends the stream with an error, fails the waiting request and removes its models', async () => {
    const post = (): Promise<Response> =>
      fetch(`${stack.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'laptop-single', messages: [{ role: 'user', content: 'x' }], stream: true }),
      });
    const res = await post();
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // Reads until `want` arrived; the stream ending first is a failure, not a spin until the jest timeout.
    const readUntil = async (want: string): Promise<void> => {
      while (!text.includes(want)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before '${want}' arrived:\n${text}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil('w2');
    // One slot: this one waits in the queue behind the first. Seen waiting there before the kill.
    const waiting = post();
    const queue = new Queue(BACKENDS.runner.queueName('laptop-single'), { connection: { host: '127.0.0.1', port: stack.redis.port }, prefix: REDIS_PREFIX });
    try {
      await waitUntil(async () => (await queue.getWaitingCount()) === 1, 30_000, 'the second request to wait in the queue', stack.logs);
    } finally {
      await queue.close();
    }
    runner!.kill('SIGKILL');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const events = text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6));
    const last = JSON.parse(events.at(-1)!) as { error?: { code: string; message: string } };
    expect(last.error?.code).toBe('runner_disconnected');
    expect(text).not.toContain('w99');
    const queued = await waiting;
    expect(queued.status).toBe(502);
    expect(((await queued.json()) as { error: { code: string } }).error.code).toBe('runner_disconnected');
    await waitForModels(false);
    const gone = await client.chat.completions.create({ model: 'laptop-echo', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    if (!(gone instanceof OpenAI.NotFoundError)) console.log(String(gone), stack.logs.join('').slice(-3000));
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
  });
});
