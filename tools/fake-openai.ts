/**
 * A small OpenAI-compatible server on node:http for tests and benchmarks of the upstream backend. What
 * it does is scripted by the upstream model id a request names, so one server plays every part:
 *
 *   echo         streams the words of the last user message back ("echo: a b c"), with usage
 *   tools        (or any request with `tools`) streams one tool call in fragments, finish tool_calls
 *   reasoner     streams reasoning_content, then content
 *   fail-429     answers 429 (Retry-After: 7) with an OpenAI error body; fail-500 answers 500; reject-400 400
 *   hang         accepts the request and never answers
 *   stall        sends the headers and one chunk, then nothing
 *   cut          sends two chunks, then drops the connection
 *   slow         streams 100 words, one every 100 ms
 *   fast-N       streams N one-word chunks as fast as it can (for benchmarks)
 *   pace-N-MS    streams N one-word chunks, one every MS ms (a model decoding at 1000/MS tokens/s)
 *
 * It records every request (path, headers, body) and whether the client went away before the end.
 * `node dist/tools/fake-openai.js [port]` runs it standalone and prints its port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** The client closed the connection before the response ended. */
  aborted: boolean;
}

export interface FakeOpenAI {
  /** Base URL including /v1. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

type Raw = Record<string, unknown>;

function lastUserText(body: Raw): string {
  if (typeof body.prompt === 'string') return body.prompt;
  const messages = Array.isArray(body.messages) ? (body.messages as Raw[]) : [];
  const user = [...messages].reverse().find((m) => m.role === 'user');
  const c = user?.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return (c as Raw[]).filter((p) => p.type === 'text').map((p) => String(p.text)).join(' ');
  return '';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startFakeOpenAI(listenPort = 0): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Raw = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Raw;
      } catch {
        // recorded as empty
      }
      const record: RecordedRequest = { path: req.url ?? '', headers: req.headers, body, aborted: false };
      requests.push(record);
      res.on('close', () => {
        if (!res.writableFinished) record.aborted = true;
      });
      void handle(req, res, body).catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(listenPort, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, body: Raw): Promise<void> {
  const model = String(body.model ?? '');
  const chat = (req.url ?? '').endsWith('/chat/completions');
  if (req.url === '/v1/models') return json(res, 200, { object: 'list', data: [] });
  if (req.url === '/v1/embeddings') return embeddings(res, body);
  if (!chat && !(req.url ?? '').endsWith('/completions')) return json(res, 404, { error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } });
  if (model === 'fail-429') return json(res, 429, { error: { message: 'slow down', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } }, { 'retry-after': '7' });
  if (model === 'fail-500') return json(res, 500, { error: { message: 'upstream exploded', type: 'server_error', param: null, code: null } });
  if (model === 'reject-400') return json(res, 400, { error: { message: "Invalid 'tools[0].function.name': bad name.", type: 'invalid_request_error', param: 'tools[0].function.name', code: 'invalid_value' } });
  if (model === 'hang') return; // never answers
  const id = `fake-${Math.random().toString(36).slice(2)}`;
  const stream = body.stream === true;
  const logprobs = body.logprobs === true || typeof body.logprobs === 'number';
  const pace = /^pace-(\d+)-(\d+)$/.exec(model);
  const words =
    model === 'slow'
      ? Array.from({ length: 100 }, (_, i) => `w${i}`)
      : model.startsWith('fast-')
        ? Array.from({ length: Number(model.slice(5)) }, (_, i) => `t${i}`)
        : pace
          ? Array.from({ length: Number(pace[1]) }, (_, i) => `t${i}`)
          : ['echo:', ...lastUserText(body).split(/\s+/).filter(Boolean)];
  const pieces = words.map((w, i) => (i === 0 ? w : ` ${w}`));
  const usage = { prompt_tokens: lastUserText(body).split(/\s+/).filter(Boolean).length, completion_tokens: pieces.length, total_tokens: 0 };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  const tools = Array.isArray(body.tools) && body.tools.length > 0 ? (body.tools as Raw[]) : undefined;
  const toolName = tools ? String((tools[0].function as Raw).name) : 'get_weather';
  const chatLogprobs = (t: string): Raw => ({ content: [{ token: t, logprob: -0.5, bytes: [...Buffer.from(t)], top_logprobs: [{ token: t, logprob: -0.5, bytes: [...Buffer.from(t)] }, { token: 'x', logprob: -2, bytes: [120] }] }] });
  const legacyLogprobs = (t: string): Raw => ({ tokens: [t], token_logprobs: [-0.5], top_logprobs: [{ [t]: -0.5, x: -2 }], text_offset: [0] });
  if (!stream) {
    if (chat) {
      const message: Raw = tools || model === 'tools'
        ? { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: toolName, arguments: '{"city":"Paris"}' } }] }
        : { role: 'assistant', content: pieces.join(''), ...(model === 'reasoner' ? { reasoning_content: 'thinking hard' } : {}) };
      return json(res, 200, { id, object: 'chat.completion', created: 1, model, choices: [{ index: 0, message, logprobs: logprobs ? chatLogprobs(pieces.join('')) : null, finish_reason: tools || model === 'tools' ? 'tool_calls' : 'stop' }], usage });
    }
    return json(res, 200, { id, object: 'text_completion', created: 1, model, choices: [{ index: 0, text: `${body.echo === true ? String(body.prompt) : ''}${pieces.join('')}`, logprobs: logprobs ? legacyLogprobs(pieces.join('')) : null, finish_reason: 'stop' }], usage });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (obj: unknown): boolean => res.write(`data: ${JSON.stringify(obj)}\n\n`);
  const chunk = (choice: Raw): Raw => ({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: 1, model, choices: [{ index: 0, logprobs: null, finish_reason: null, ...choice }] });
  if (chat) send(chunk({ delta: { role: 'assistant', content: '' } }));
  else if (body.echo === true) send(chunk({ text: String(body.prompt) }));
  if (chat && (tools || model === 'tools')) {
    send(chunk({ delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: toolName, arguments: '' } }] } }));
    for (const frag of ['{"ci', 'ty":', ' "Paris"}']) send(chunk({ delta: { tool_calls: [{ index: 0, function: { arguments: frag } }] } }));
    send(chunk({ delta: {}, finish_reason: 'tool_calls' }));
  } else {
    if (model === 'reasoner') for (const r of ['thinking', ' hard']) send(chunk({ delta: { reasoning_content: r } }));
    for (let i = 0; i < pieces.length; i++) {
      if (res.destroyed) return;
      const p = pieces[i];
      send(chunk(chat ? { delta: { content: p }, ...(logprobs ? { logprobs: chatLogprobs(p) } : {}) } : { text: p, ...(logprobs ? { logprobs: legacyLogprobs(p) } : {}) }));
      if (model === 'stall') return; // headers and one chunk, then silence
      if (model === 'cut' && i === 1) {
        await sleep(100); // let the chunks reach the client first
        res.socket?.destroy();
        return;
      }
      if (model === 'slow') await sleep(100);
      if (pace) await sleep(Number(pace[2]));
    }
    send(chunk(chat ? { delta: {}, finish_reason: 'stop' } : { text: '', finish_reason: 'stop' }));
  }
  const opts = body.stream_options as Raw | undefined;
  if (opts?.include_usage === true) send({ id, object: 'chat.completion.chunk', created: 1, model, choices: [], usage });
  res.end('data: [DONE]\n\n');
}

/** Each input's vector is [length, index, 0.5, -1] (float, or base64 float32 as OpenAI sends it). */
function embeddings(res: ServerResponse, body: Raw): void {
  const model = String(body.model ?? '');
  if (model === 'fail-500') return json(res, 500, { error: { message: 'upstream exploded', type: 'server_error', param: null, code: null } });
  const input = body.input;
  const inputs: unknown[] = typeof input === 'string' ? [input] : Array.isArray(input) && typeof input[0] === 'number' ? [input] : Array.isArray(input) ? input : [];
  const data = inputs.map((x, index) => {
    const vector = [typeof x === 'string' ? x.length : (x as unknown[]).length, index, 0.5, -1];
    const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  json(res, 200, { object: 'list', data, model, usage: { prompt_tokens: inputs.length * 2, total_tokens: inputs.length * 2 } });
}

function json(res: ServerResponse, status: number, obj: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(obj));
}

/** Run standalone (for the benchmark): prints the port. */
if (require.main === module) {
  void startFakeOpenAI(Number(process.argv[2] ?? 0)).then((f) => process.stdout.write(`${f.port}\n`));
}
