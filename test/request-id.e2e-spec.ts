/**
 * Request ids and structured logs, end to end: `x-request-id` round trips (a client's sane id kept,
 * a fresh one for an absent or unsafe id), every line the gateway and the llm worker print is pino
 * JSON, each request gets one access log line (model, status, duration, time to first token,
 * tokens, key name, never the key) when it ends, streams and aborted streams included, and the
 * worker's lines about the job carry the same requestId.
 */
import { waitUntil } from '@switchyard/runtime';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { readSse, startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

const KEY = 'sk-request-id-user-0001';
const MODEL = 'tiny-long';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Line = Record<string, unknown> & { level: string; time: string; msg: string; c: string };

let stack: Stack;

beforeAll(async () => {
  // The same file as cancellation.e2e-spec.ts's: a long context, so a stream runs long enough to abort.
  const path = await tinyModel('tiny-long', { contextLength: 32768 });
  stack = await startStack({
    models: [{ name: MODEL, path, parallel: 2, context_size: 4096 }],
    gatewayEnv: { API_KEYS: KEY, LOG_LEVEL: 'debug' },
    workerEnv: { LOG_LEVEL: 'debug' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** Every line one app printed, parsed (a line that is not JSON fails the parse, and the test). */
function linesOf(app: string): Line[] {
  const prefix = `[${app}] `;
  return stack.logs.filter((l) => l.startsWith(prefix)).map((l) => JSON.parse(l.slice(prefix.length)) as Line);
}

async function accessLine(requestId: string): Promise<Line> {
  let found: Line | undefined;
  await waitUntil(
    async () => (found = linesOf('gateway').find((l) => l.c === 'http' && l.requestId === requestId)) !== undefined,
    10_000,
    `the access log line of ${requestId}`,
    stack.logs,
  );
  return found!;
}

function chat(body: object, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], temperature: 0, ...body }),
    signal,
  });
}

describe('request ids and logs (e2e)', () => {
  it('keeps a client id, logs one access line for it, and the worker logs the job under the same id', async () => {
    const id = 'client-Id_1.2:3';
    const res = await chat({ max_tokens: 4 }, { 'x-request-id': id });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    if (openapiAvailable()) expect(schemaErrors('CreateChatCompletionResponse', body)).toEqual([]);

    const line = await accessLine(id);
    expect(line).toMatchObject({
      level: 'info',
      msg: 'request completed',
      method: 'POST',
      path: '/v1/chat/completions',
      status: 200,
      model: MODEL,
      keyName: 'user-1',
      promptTokens: body.usage.prompt_tokens,
      completionTokens: body.usage.completion_tokens,
    });
    expect(line.ttftMs).toBeGreaterThan(0);
    expect(line.durationMs).toBeGreaterThanOrEqual(line.ttftMs as number);
    expect(line).not.toHaveProperty('aborted');
    // Exactly one line per request, with no headers or bodies in it.
    expect(linesOf('gateway').filter((l) => l.c === 'http' && l.requestId === id)).toHaveLength(1);
    expect(line).not.toHaveProperty('req');
    expect(line).not.toHaveProperty('res');

    await waitUntil(async () => linesOf('llm-worker').some((l) => l.requestId === id && l.msg === 'job finished'), 10_000, 'the worker lines', stack.logs);
    const jobLines = linesOf('llm-worker').filter((l) => l.requestId === id);
    expect(jobLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['job started', 'job finished']));
    expect(new Set(jobLines.map((l) => l.jobId)).size).toBe(1);
    expect(jobLines[0].jobId).toEqual(expect.any(String));
    expect(jobLines[0].c).toBe(`llm-worker.${MODEL}`);
  });

  it.each([
    ['absent', undefined],
    ['with a space', 'my id'],
    ['too long', 'x'.repeat(129)],
    ['with a quote', 'a"b'],
  ])('answers a fresh id for an id %s, and logs under it', async (_what, given) => {
    const res = await chat({ max_tokens: 1 }, given === undefined ? {} : { 'x-request-id': given });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(UUID);
    expect((await accessLine(id)).status).toBe(200);
    await waitUntil(async () => linesOf('llm-worker').some((l) => l.requestId === id), 10_000, 'the worker line', stack.logs);
  });

  it('logs a stream once it ends, and an aborted one as aborted, in the gateway and the worker', async () => {
    const done = await chat({ max_tokens: 3, stream: true, stream_options: { include_usage: true } }, { 'x-request-id': 'stream-ok' });
    expect(done.status).toBe(200);
    const events = await readSse(done);
    expect(events[events.length - 1]).toBe('[DONE]');
    expect(await accessLine('stream-ok')).toMatchObject({ msg: 'request completed', status: 200, completionTokens: 3, ttftMs: expect.any(Number) });

    const abort = new AbortController();
    const res = await chat({ max_tokens: 3500, stream: true }, { 'x-request-id': 'stream-cut' }, abort.signal);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // the first chunk: the generation runs
    abort.abort();
    await reader.closed.catch(() => undefined);
    expect(await accessLine('stream-cut')).toMatchObject({ msg: 'request aborted', aborted: true, model: MODEL, keyName: 'user-1', ttftMs: expect.any(Number) });
    // The worker aborts the job on the cancel, and says so under the request's id.
    await waitUntil(async () => linesOf('llm-worker').some((l) => l.requestId === 'stream-cut' && l.msg === 'job finished'), 20_000, "the worker's 'job finished'", stack.logs);
    expect(linesOf('llm-worker').find((l) => l.requestId === 'stream-cut' && l.msg === 'job finished')).toMatchObject({ aborted: true });
    expect(linesOf('llm-worker').find((l) => l.requestId === 'stream-ok' && l.msg === 'job finished')).not.toHaveProperty('aborted');
  });

  it('logs refusals with their error code and the key never, and probes at debug level', async () => {
    const bad = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'x-request-id': 'bad-json' },
      body: '{"model":',
    });
    expect(bad.status).toBe(400);
    const refused = await accessLine('bad-json');
    expect(refused).toMatchObject({ level: 'info', status: 400, errorCode: 'invalid_json' });
    expect(refused).not.toHaveProperty('keyName'); // refused before the key was checked

    const wrongKey = 'sk-wrong-key-must-not-be-logged';
    const denied = await fetch(`${stack.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${wrongKey}`, 'x-request-id': 'denied' } });
    expect(denied.status).toBe(401);
    expect(await accessLine('denied')).toMatchObject({ status: 401, errorCode: 'invalid_api_key' });

    const health = await fetch(`${stack.baseUrl}/health`, { headers: { 'x-request-id': 'probe' } });
    expect(health.status).toBe(200);
    expect(await accessLine('probe')).toMatchObject({ level: 'debug', path: '/health', status: 200 });

    const all = stack.logs.join('');
    expect(all).not.toContain(KEY);
    expect(all).not.toContain(wrongKey);
  });

  it('prints nothing but JSON lines, with a level label, a time, a component and a message', () => {
    for (const app of ['gateway', 'llm-worker']) {
      const lines = linesOf(app);
      expect(lines.length).toBeGreaterThan(5);
      for (const l of lines) {
        expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(l.level);
        expect(typeof l.time).toBe('string');
        expect(typeof l.c).toBe('string');
        expect(typeof l.msg).toBe('string');
      }
    }
    // Nest's own start-up lines came through pino too (at debug level).
    expect(linesOf('gateway').some((l) => l.c.startsWith('nest.') && l.level === 'debug')).toBe(true);
    expect(linesOf('gateway').some((l) => l.msg === 'gateway listening')).toBe(true);
  });
});
