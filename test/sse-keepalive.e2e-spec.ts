/**
 * SSE keep-alive during long queue waits (e2e, real Redis and llama.cpp): a streaming request that
 * waits behind a busy slot gets its 200 and `: keep-alive` comments every SSE_KEEPALIVE_MS (300 ms
 * here) on the wire, then its answer; the openai client streams through the comments; a queue
 * timeout after the headers ends the stream with an error event; admission failures stay statuses.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import OpenAI from 'openai';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

const KEEPALIVE_MS = 300;
const checkSchemas = openapiAvailable();

/** One piece of the raw body as it came off the socket, with its arrival time. */
interface Piece {
  at: number;
  text: string;
}

interface RawStream {
  status: number;
  headers: IncomingMessage['headers'];
  /** Ms from sending the request to the status line. */
  headersAt: number;
  pieces: Piece[];
  body: string;
}

/** POSTs with node:http and records every chunk of the body as it arrives (no SSE parsing). */
function rawPost(url: string, body: object, onPiece?: (text: string) => void): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const out: RawStream = { status: res.statusCode ?? 0, headers: res.headers, headersAt: Date.now() - started, pieces: [], body: '' };
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        out.pieces.push({ at: Date.now() - started, text });
        out.body += text;
        onPiece?.(text);
      });
      res.on('end', () => resolve(out));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The SSE blocks of a body: comments (`: ...`) and `data:` payloads, in order. */
function blocks(body: string): string[] {
  return body
    .split('\n\n')
    .map((b) => b.trim())
    .filter((b) => b !== '');
}

describe('SSE keep-alive during a long queue wait (e2e)', () => {
  let stack: Stack;
  let url: string;

  beforeAll(async () => {
    const path = await tinyModel('tiny-long', { contextLength: 32768 });
    stack = await startStack({
      models: [
        { name: 'one-slot', path, parallel: 1, context_size: 32768 },
        { name: 'nobody', path, preload: false, auto_load: false },
      ],
      gatewayEnv: { SSE_KEEPALIVE_MS: String(KEEPALIVE_MS), QUEUE_TIMEOUT_MS: '3000' },
    });
    url = `${stack.baseUrl}/v1/chat/completions`;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** Fills the model's one slot with a long streamed generation; resolves once it streams. Abort to free it. */
  async function occupySlot(): Promise<AbortController> {
    const abort = new AbortController();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'one-slot', messages: [{ role: 'user', content: 'Once' }], max_tokens: 30_000, temperature: 0, stream: true }),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    // Keep reading (so it is not dropped as a stalled client) until aborted.
    void (async () => {
      for (;;) {
        const { done } = await reader.read().catch(() => ({ done: true }));
        if (done) return;
      }
    })();
    return abort;
  }

  it('sends the headers and a comment every SSE_KEEPALIVE_MS while queued, then the answer', async () => {
    const busy = await occupySlot();
    let comments = 0;
    let freed = false;
    const answer = await rawPost(url, { model: 'one-slot', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, stream: true }, (text) => {
      comments += text.split(': keep-alive\n\n').length - 1;
      // Three comments on the wire: the wait has lasted about a second; free the slot.
      if (comments >= 3 && !freed) {
        freed = true;
        busy.abort();
      }
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/event-stream/);
    // The headers came with the first comment, about one interval after the request (not at the answer).
    expect(answer.headersAt).toBeGreaterThanOrEqual(KEEPALIVE_MS - 50);
    expect(answer.headersAt).toBeLessThan(KEEPALIVE_MS * 5);
    const all = blocks(answer.body);
    const firstData = all.findIndex((b) => b.startsWith('data: '));
    expect(firstData).toBeGreaterThanOrEqual(3);
    expect(all.slice(0, firstData).every((b) => b === ': keep-alive')).toBe(true);
    // Spaced by the interval, not sent in a burst.
    const commentTimes = answer.pieces.filter((p) => p.text.includes(': keep-alive')).map((p) => p.at);
    for (let i = 1; i < Math.min(3, commentTimes.length); i++) expect(commentTimes[i] - commentTimes[i - 1]).toBeGreaterThanOrEqual(KEEPALIVE_MS - 100);
    expect(all[all.length - 1]).toBe('data: [DONE]');
    const chunks = all.filter((b) => b.startsWith('data: {')).map((b) => JSON.parse(b.slice(6)) as { object: string; choices: Array<{ delta: { content?: string } }> });
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('').length).toBeGreaterThan(0);
    if (checkSchemas) for (const c of chunks) expect(schemaErrors('CreateChatCompletionStreamResponse', c)).toEqual([]);
  });

  it('the openai client streams through the comments', async () => {
    const busy = await occupySlot();
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'none', maxRetries: 0 });
    const freeLater = setTimeout(() => busy.abort(), KEEPALIVE_MS * 4);
    try {
      const started = Date.now();
      const stream = await client.chat.completions.create({ model: 'one-slot', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, stream: true });
      let text = '';
      let chunks = 0;
      let finish: string | null = null;
      for await (const chunk of stream) {
        chunks++;
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      // It really waited through keep-alives (the slot was freed after four intervals).
      expect(Date.now() - started).toBeGreaterThanOrEqual(KEEPALIVE_MS * 4 - 50);
      expect(chunks).toBeGreaterThan(1);
      expect(text.length).toBeGreaterThan(0);
      expect(finish).toBe('length');
    } finally {
      clearTimeout(freeLater);
      busy.abort();
    }
  });

  it('a queue timeout after the keep-alives ends the stream with an error event', async () => {
    const busy = await occupySlot();
    try {
      const answer = await rawPost(url, { model: 'one-slot', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, stream: true });
      expect(answer.status).toBe(200);
      const all = blocks(answer.body);
      expect(all.filter((b) => b === ': keep-alive').length).toBeGreaterThanOrEqual(3);
      const last = all[all.length - 1];
      expect(last.startsWith('data: ')).toBe(true);
      const error = JSON.parse(last.slice(6)) as { error: { code: string; type: string; message: string } };
      expect(error.error).toMatchObject({ code: 'queue_timeout', type: 'server_error' });
      expect(all.some((b) => b.startsWith('data: {"id"'))).toBe(false);
    } finally {
      busy.abort();
    }
  });

  it('admission failures stay HTTP statuses even when they take longer than the interval', async () => {
    // Nobody serves 'nobody': the request waits WORKER_WAIT_MS (2 s) for a worker, then gets its 503.
    const answer = await rawPost(url, { model: 'nobody', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, stream: true });
    expect(answer.headersAt).toBeGreaterThan(KEEPALIVE_MS * 3);
    expect(answer.status).toBe(503);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.body).not.toContain('keep-alive');
    expect((JSON.parse(answer.body) as { error: { code: string } }).error.code).toBe('no_worker_available');
  });

  it('a non-streaming request that waits gets no comments, only its JSON body', async () => {
    const busy = await occupySlot();
    const freeLater = setTimeout(() => busy.abort(), KEEPALIVE_MS * 3);
    try {
      const answer = await rawPost(url, { model: 'one-slot', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 });
      expect(answer.status).toBe(200);
      expect(answer.headersAt).toBeGreaterThanOrEqual(KEEPALIVE_MS * 3 - 50);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(answer.body) as object;
      if (checkSchemas) expect(schemaErrors('CreateChatCompletionResponse', body)).toEqual([]);
    } finally {
      clearTimeout(freeLater);
      busy.abort();
    }
  });
});
