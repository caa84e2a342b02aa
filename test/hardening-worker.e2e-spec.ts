/**
 * Hardening of the llm worker (issue #21), end to end: requests that used to reach a native failure
 * (a grammar no token can satisfy, a logit_bias that bans everything, out-of-vocabulary prompt
 * tokens) are the caller's 400 or a clean end of that request alone, while other streams on the
 * same worker go on and the worker process lives.
 */
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(180_000);

/** The tiny models' end-of-generation token (<|im_end|>), banned so that streams run long. */
const EOS = 260;

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function post(stack: Stack, path: string, body: object): Promise<{ status: number; json: ErrorBody & Record<string, unknown> }> {
  const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as never };
}

interface OpenStream {
  /** Resolves once the first `data:` event arrived. */
  started: Promise<void>;
  /** All `data:` payloads, once the response ended. */
  done: Promise<string[]>;
}

/** A long streamed completion, read incrementally. */
function openStream(stack: Stack, maxTokens = 300): OpenStream {
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const done = (async () => {
    const res = await fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: 'Once upon a time', max_tokens: maxTokens, stream: true, logit_bias: { [EOS]: -100 } }),
    });
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes('data: ')) markStarted();
    }
    markStarted();
    return text
      .split('\n\n')
      .map((b) => b.trim())
      .filter((b) => b.startsWith('data: '))
      .map((b) => b.slice('data: '.length));
  })();
  return { started, done };
}

/** A stream ended normally: no error event, and the last event is [DONE]. */
function expectCompleted(events: string[]): void {
  expect(events.filter((e) => e.includes('"error"'))).toEqual([]);
  expect(events[events.length - 1]).toBe('[DONE]');
  expect(events.length).toBeGreaterThan(3);
}

describe('llm worker hardening (e2e)', () => {
  let stack: Stack;

  beforeAll(async () => {
    const path = await tinyModel('tiny-chat');
    stack = await startStack({ models: [{ name: 'tiny', path, context_size: 1024, parallel: 4 }] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** The worker process still runs and still answers. */
  async function expectWorkerAlive(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stack.worker!.exitCode).toBeNull();
    expect(stack.worker!.signalCode).toBeNull();
    const ok = await post(stack, '/v1/completions', { model: 'tiny', prompt: 'hi', max_tokens: 4 });
    expect(ok.status).toBe(200);
  }

  it.each([
    ['completions', 'root ::= "\\x00"'],
    ['completions', 'root ::= [\\x00]'],
    ['chat', 'root ::= "\\x00"'],
    ['chat', 'root ::= "\\u0000" "a"'],
  ])('a grammar no token can start (%s, %s) is a 400 invalid_grammar, and other streams finish', async (endpoint, grammar) => {
    const streams = [openStream(stack), openStream(stack)];
    await Promise.all(streams.map((s) => s.started));
    const body =
      endpoint === 'chat'
        ? { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, grammar }
        : { model: 'tiny', prompt: 'hi', max_tokens: 8, grammar };
    const res = await post(stack, endpoint === 'chat' ? '/v1/chat/completions' : '/v1/completions', body);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_grammar', param: 'grammar' });
    for (const s of streams) expectCompleted(await s.done);
    await expectWorkerAlive();
  });

  it('a grammar that reaches a dead end mid-way ends that request cleanly', async () => {
    const streams = [openStream(stack), openStream(stack)];
    await Promise.all(streams.map((s) => s.started));
    const res = await post(stack, '/v1/completions', { model: 'tiny', prompt: 'hi', max_tokens: 8, grammar: 'root ::= "ab" "\\x00"' });
    expect(res.status).toBe(200);
    const choice = (res.json as unknown as { choices: Array<{ text: string; finish_reason: string }> }).choices[0];
    expect(choice).toMatchObject({ text: 'ab', finish_reason: 'stop' });
    for (const s of streams) expectCompleted(await s.done);
    await expectWorkerAlive();
  });

  it('a grammar with a raw NUL character is a 400', async () => {
    const res = await post(stack, '/v1/completions', { model: 'tiny', prompt: 'hi', max_tokens: 8, grammar: 'root ::= "a\u0000"' });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'invalid_grammar', param: 'grammar' });
    await expectWorkerAlive();
  });

  it('a logit_bias that bans every token, or every token a grammar allows, is a 400 naming logit_bias', async () => {
    const streams = [openStream(stack), openStream(stack)];
    await Promise.all(streams.map((s) => s.started));
    const all = Object.fromEntries(Array.from({ length: 1024 }, (_, i) => [String(i), -100]));
    const everything = await post(stack, '/v1/completions', { model: 'tiny', prompt: 'hi', max_tokens: 8, logit_bias: all });
    expect(everything.status).toBe(400);
    expect(everything.json.error).toMatchObject({ code: 'invalid_logit_bias', param: 'logit_bias' });
    // Every token but the end-of-generation ones banned, with a grammar that needs text.
    const allButEos = Object.fromEntries(Array.from({ length: 1024 }, (_, i) => [String(i), -100]).filter(([i]) => Number(i) !== EOS));
    const withGrammar = await post(stack, '/v1/chat/completions', {
      model: 'tiny',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 8,
      grammar: 'root ::= [a-z]+',
      logit_bias: allButEos,
    });
    expect(withGrammar.status).toBe(400);
    expect(withGrammar.json.error).toMatchObject({ code: 'invalid_logit_bias', param: 'logit_bias' });
    for (const s of streams) expectCompleted(await s.done);
    await expectWorkerAlive();
  });

  it.each([[[999999]], [[1024]], [[1, 2, 1024]]])('an out-of-vocabulary prompt token (%j) is a 400 naming prompt; 3 concurrent streams finish', async (prompt) => {
    const streams = [openStream(stack), openStream(stack), openStream(stack)];
    await Promise.all(streams.map((s) => s.started));
    const res = await post(stack, '/v1/completions', { model: 'tiny', prompt, max_tokens: 8 });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_token_id', param: 'prompt' });
    for (const s of streams) expectCompleted(await s.done);
    await expectWorkerAlive();
  });
});
