/**
 * Calls one OpenAI-compatible deployment (chat or legacy completions, streamed or not) and turns its
 * response into the neutral job events every backend emits: text, reasoning, tool-call fragments and
 * log probabilities as deltas, then finish reason and usage. Failures come back as UpstreamFailure,
 * marked retryable when another deployment may serve the request (connection error, timeout, 429,
 * 5xx) so the caller can fall back before any token was sent. No Redis or HTTP server here: the
 * upstream worker and the runner's local-server mode both use it.
 */
import type { DeltaEvent, ErrorEvent, FinishReason, JobErrorType, TokenLogprob, ToolCallDelta, TopLogprob, Usage, UpstreamDeployment, UpstreamEndpoint } from '@switchyard/contracts';

export type UpstreamDelta = Omit<DeltaEvent, 'type' | 'seq'>;

export interface UpstreamSink {
  delta(delta: UpstreamDelta): void;
  /** The whole JSON answer of a non-generating endpoint (embeddings). */
  result?(data: Record<string, unknown>): void;
}

export interface UpstreamResult {
  finishReason: FinishReason;
  usage: Usage;
  aborted: boolean;
}

/** A failed call, already shaped as the OpenAI error the client should get. */
export class UpstreamFailure extends Error {
  constructor(
    readonly status: number,
    readonly errorType: JobErrorType,
    readonly code: string,
    message: string,
    /** Another deployment may succeed (only used while nothing was streamed). */
    readonly retryable: boolean,
    readonly param: string | null = null,
    /** The upstream's Retry-After, passed on to the client. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  /** As the neutral error event. */
  toEvent(): Omit<ErrorEvent, 'seq'> {
    return {
      type: 'error',
      status: this.status,
      errorType: this.errorType,
      message: this.message,
      code: this.code,
      param: this.param,
      ...(this.retryAfterSeconds !== undefined ? { retryAfterSeconds: this.retryAfterSeconds } : {}),
    };
  }
}

/** Retry-After as seconds (a number of seconds or an HTTP date), when present and sane. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const secs = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Math.ceil((Date.parse(value) - now) / 1000);
  return Number.isFinite(secs) && secs >= 0 && secs <= 86_400 ? secs : undefined;
}

export interface UpstreamRequest {
  deployment: UpstreamDeployment;
  endpoint: UpstreamEndpoint;
  /** The client's body without model/stream; the deployment's model id is set here. */
  body: Record<string, unknown>;
  signal: AbortSignal;
  sink: UpstreamSink;
  /** Looks up API keys (process.env by default); never logged. */
  env?: NodeJS.ProcessEnv;
  /** Name used in error messages (the model as clients know it). */
  label: string;
}

const PATHS: Record<UpstreamEndpoint, string> = { chat: '/chat/completions', completions: '/completions', embeddings: '/embeddings' };

export async function callUpstream(req: UpstreamRequest): Promise<UpstreamResult> {
  const { deployment: dep, signal } = req;
  const env = req.env ?? process.env;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: dep.stream && req.endpoint !== 'embeddings' ? 'text/event-stream' : 'application/json', ...dep.headers };
  if (dep.apiKeyEnv !== undefined) {
    const key = env[dep.apiKeyEnv];
    if (!key) {
      throw new UpstreamFailure(500, 'server_error', 'upstream_misconfigured', `The API key for '${req.label}' is not configured (environment variable ${dep.apiKeyEnv} is empty).`, true);
    }
    headers.authorization = `Bearer ${key}`;
  }
  const generating = req.endpoint !== 'embeddings';
  const stream = dep.stream && generating;
  const body = { ...req.body, model: dep.model, ...(generating ? { stream } : {}), ...(stream && dep.includeUsage ? { stream_options: { include_usage: true } } : {}) };
  const abort = new AbortController();
  let timedOut: 'connect' | 'idle' | undefined;
  let timer = setTimeout(() => {
    timedOut = 'connect';
    abort.abort();
  }, dep.connectTimeoutMs);
  const resetIdle = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = 'idle';
      abort.abort();
    }, dep.idleTimeoutMs);
  };
  const onAbort = (): void => abort.abort();
  signal.addEventListener('abort', onAbort);
  const counter = { deltas: 0 };
  const sink: UpstreamSink = {
    delta: (d) => {
      counter.deltas++;
      req.sink.delta(d);
    },
  };
  try {
    let res: Response;
    try {
      res = await fetch(`${dep.baseUrl}${PATHS[req.endpoint]}`, { method: 'POST', headers, body: JSON.stringify(body), signal: abort.signal });
    } catch (err) {
      if (signal.aborted) return abortedResult();
      throw connectionFailure(req.label, err, timedOut, dep);
    }
    if (!res.ok) throw await httpFailure(req.label, res);
    resetIdle();
    try {
      if (!generating) {
        const json = (await res.json()) as Record<string, unknown>;
        req.sink.result?.(json);
        return { finishReason: 'stop', usage: toUsage(json.usage) ?? { promptTokens: 0, completionTokens: 0 }, aborted: false };
      }
      const result = stream && (res.headers.get('content-type') ?? '').includes('text/event-stream')
        ? await readStream(res, req.endpoint, sink, resetIdle)
        : readJson(await res.json(), req.endpoint, sink);
      if (result.usage.completionTokens === 0 && counter.deltas > 0 && !result.usageReported) result.usage.completionTokens = counter.deltas;
      return { finishReason: result.finishReason, usage: result.usage, aborted: false };
    } catch (err) {
      if (signal.aborted) return abortedResult();
      if (err instanceof UpstreamFailure) throw err;
      if (timedOut === 'idle') {
        throw new UpstreamFailure(504, 'server_error', 'upstream_timeout', `The upstream server for '${req.label}' sent nothing for ${dep.idleTimeoutMs} ms.`, true);
      }
      throw new UpstreamFailure(502, 'server_error', 'upstream_disconnected', `The upstream server for '${req.label}' broke off its response: ${describeError(err)}.`, true);
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

function abortedResult(): UpstreamResult {
  return { finishReason: 'stop', usage: { promptTokens: 0, completionTokens: 0 }, aborted: true };
}

function describeError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

function connectionFailure(label: string, err: unknown, timedOut: 'connect' | 'idle' | undefined, dep: UpstreamDeployment): UpstreamFailure {
  if (timedOut !== undefined) {
    return new UpstreamFailure(504, 'server_error', 'upstream_timeout', `The upstream server for '${label}' did not answer within ${dep.connectTimeoutMs} ms.`, true);
  }
  return new UpstreamFailure(502, 'server_error', 'upstream_unreachable', `The upstream server for '${label}' could not be reached (${describeError(err)}).`, true);
}

/** OpenAI-shaped (or any) error body → message and param, without trusting its shape. */
function upstreamMessage(text: string): { message: string; param: string | null; code: string | null } {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; param?: unknown; code?: unknown } | string; message?: unknown; detail?: unknown };
    const e = parsed.error;
    if (typeof e === 'string') return { message: e, param: null, code: null };
    if (e && typeof e.message === 'string') {
      return { message: e.message, param: typeof e.param === 'string' ? e.param : null, code: typeof e.code === 'string' ? e.code : null };
    }
    if (typeof parsed.message === 'string') return { message: parsed.message, param: null, code: null };
    if (typeof parsed.detail === 'string') return { message: parsed.detail, param: null, code: null };
  } catch {
    // not JSON
  }
  return { message: text.slice(0, 500).trim() || 'no details', param: null, code: null };
}

async function httpFailure(label: string, res: Response): Promise<UpstreamFailure> {
  const { message, param, code } = upstreamMessage(await res.text().catch(() => ''));
  const s = res.status;
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
  if (s === 429) {
    return new UpstreamFailure(429, 'rate_limit_error', code ?? 'rate_limit_exceeded', `The upstream server for '${label}' is rate limiting requests: ${message}`, true, null, retryAfter);
  }
  if (s >= 500) {
    return new UpstreamFailure(502, 'server_error', 'upstream_error', `The upstream server for '${label}' failed with HTTP ${s}: ${message}`, true, null, retryAfter);
  }
  if (s === 401 || s === 403 || s === 404) {
    // The gateway's own credentials or model id are wrong: the client cannot fix that.
    return new UpstreamFailure(502, 'server_error', 'upstream_error', `The upstream server for '${label}' refused the request with HTTP ${s}: ${message}`, true);
  }
  // 400, 413, 422...: the request itself (tools, response_format, content) is what the upstream rejects.
  return new UpstreamFailure(s === 413 ? 413 : 400, 'invalid_request_error', code ?? 'upstream_rejected', message, false, param);
}

interface ParsedResult {
  finishReason: FinishReason;
  usage: Usage;
  usageReported: boolean;
}

type Raw = Record<string, unknown>;

export function toFinishReason(reason: unknown): FinishReason | undefined {
  if (reason === null || reason === undefined) return undefined;
  if (reason === 'length' || reason === 'tool_calls' || reason === 'content_filter') return reason;
  if (reason === 'function_call') return 'tool_calls';
  return 'stop';
}

export function toUsage(u: unknown): Usage | undefined {
  if (typeof u !== 'object' || u === null) return undefined;
  const r = u as Raw;
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const usage: Usage = { promptTokens: num(r.prompt_tokens), completionTokens: num(r.completion_tokens) };
  const cached = (r.prompt_tokens_details as Raw | undefined)?.cached_tokens;
  const reasoning = (r.completion_tokens_details as Raw | undefined)?.reasoning_tokens;
  if (typeof cached === 'number') usage.cachedTokens = cached;
  if (typeof reasoning === 'number') usage.reasoningTokens = reasoning;
  return usage;
}

function bytesOf(token: string, bytes: unknown): number[] {
  return Array.isArray(bytes) && bytes.every((b) => typeof b === 'number') ? (bytes as number[]) : [...Buffer.from(token, 'utf8')];
}

function topOf(entry: Raw): TopLogprob {
  const token = typeof entry.token === 'string' ? entry.token : '';
  return { token, logprob: typeof entry.logprob === 'number' ? entry.logprob : 0, bytes: bytesOf(token, entry.bytes) };
}

/** Chat logprobs (`content: [{token, logprob, bytes, top_logprobs}]`) or the legacy completions layout. */
export function toLogprobs(lp: unknown): TokenLogprob[] | undefined {
  if (typeof lp !== 'object' || lp === null) return undefined;
  const r = lp as Raw;
  if (Array.isArray(r.content)) {
    return (r.content as Raw[]).map((c) => ({ ...topOf(c), top: Array.isArray(c.top_logprobs) ? (c.top_logprobs as Raw[]).map(topOf) : [] }));
  }
  if (Array.isArray(r.tokens)) {
    const tokens = r.tokens as unknown[];
    const lps = Array.isArray(r.token_logprobs) ? (r.token_logprobs as unknown[]) : [];
    const tops = Array.isArray(r.top_logprobs) ? (r.top_logprobs as unknown[]) : [];
    return tokens.map((t, i) => {
      const token = typeof t === 'string' ? t : '';
      const alts = tops[i];
      const top =
        typeof alts === 'object' && alts !== null
          ? Object.entries(alts as Record<string, unknown>).map(([tok, l]) => ({ token: tok, logprob: typeof l === 'number' ? l : 0, bytes: bytesOf(tok, undefined) }))
          : [];
      return { token, logprob: typeof lps[i] === 'number' ? (lps[i] as number) : 0, bytes: bytesOf(token, undefined), top };
    });
  }
  return undefined;
}

function toToolCalls(calls: unknown): ToolCallDelta[] | undefined {
  if (!Array.isArray(calls) || calls.length === 0) return undefined;
  return (calls as Raw[]).map((c, i) => {
    const fn = (c.function ?? {}) as Raw;
    const out: ToolCallDelta = { index: typeof c.index === 'number' ? c.index : i };
    if (typeof c.id === 'string') out.id = c.id;
    if (typeof fn.name === 'string') out.name = fn.name;
    if (typeof fn.arguments === 'string') out.arguments = fn.arguments;
    else if (fn.arguments !== undefined && fn.arguments !== null) out.arguments = JSON.stringify(fn.arguments);
    return out;
  });
}

/** One choice of a chunk (`delta`) or of a whole response (`message`) → a neutral delta, if it has anything. */
export function choiceDelta(choice: Raw, endpoint: UpstreamEndpoint, whole: boolean): UpstreamDelta | undefined {
  let text = '';
  let reasoning: string | undefined;
  let toolCalls: ToolCallDelta[] | undefined;
  if (endpoint === 'completions') {
    text = typeof choice.text === 'string' ? choice.text : '';
  } else {
    const d = ((whole ? choice.message : choice.delta) ?? {}) as Raw;
    text = typeof d.content === 'string' ? d.content : '';
    // vLLM and llama.cpp's server say reasoning_content; Ollama and OpenRouter say reasoning.
    const r = d.reasoning_content ?? d.reasoning;
    if (typeof r === 'string' && r.length > 0) reasoning = r;
    toolCalls = toToolCalls(d.tool_calls);
    if (!toolCalls && typeof d.function_call === 'object' && d.function_call !== null) {
      toolCalls = toToolCalls([{ index: 0, function: d.function_call }]);
    }
  }
  const logprobs = toLogprobs(choice.logprobs);
  if (text === '' && reasoning === undefined && toolCalls === undefined && (logprobs === undefined || logprobs.length === 0)) return undefined;
  return {
    text,
    ...(reasoning !== undefined ? { reasoning } : {}),
    ...(toolCalls ? { toolCalls } : {}),
    ...(logprobs && logprobs.length > 0 ? { logprobs } : {}),
  };
}

function errorChunk(label: string, e: unknown): UpstreamFailure {
  const err = (typeof e === 'object' && e !== null ? e : { message: String(e) }) as Raw;
  const message = typeof err.message === 'string' ? err.message : 'unknown error';
  return new UpstreamFailure(502, 'server_error', 'upstream_error', `The upstream server for '${label}' reported an error mid-response: ${message}`, true);
}

/** Applies one parsed SSE chunk; returns true for the end marker. */
export class StreamState {
  finishReason: FinishReason | undefined;
  usage: Usage | undefined;

  constructor(
    private readonly endpoint: UpstreamEndpoint,
    private readonly sink: UpstreamSink,
    private readonly label = 'model',
  ) {}

  apply(data: string): boolean {
    if (data === '[DONE]') return true;
    let chunk: Raw;
    try {
      chunk = JSON.parse(data) as Raw;
    } catch {
      throw new UpstreamFailure(502, 'server_error', 'upstream_bad_response', `The upstream server for '${this.label}' sent a chunk that is not JSON.`, true);
    }
    if (chunk.error !== undefined) throw errorChunk(this.label, chunk.error);
    const usage = toUsage(chunk.usage);
    if (usage) this.usage = usage;
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as Raw[]) : [];
    for (const choice of choices) {
      const delta = choiceDelta(choice, this.endpoint, false);
      if (delta) this.sink.delta(delta);
      this.finishReason = toFinishReason(choice.finish_reason) ?? this.finishReason;
    }
    return false;
  }
}

async function readStream(res: Response, endpoint: UpstreamEndpoint, sink: UpstreamSink, onChunk: () => void): Promise<ParsedResult> {
  const state = new StreamState(endpoint, sink);
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  const body = res.body;
  if (!body) throw new Error('empty body');
  outer: for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
    onChunk();
    buffer += decoder.decode(bytes, { stream: true });
    let sep: RegExpExecArray | null;
    while ((sep = /\r?\n\r?\n/.exec(buffer)) !== null) {
      const block = buffer.slice(0, sep.index);
      buffer = buffer.slice(sep.index + sep[0].length);
      const data = block
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data.length === 0) continue;
      if (state.apply(data)) {
        ended = true;
        break outer;
      }
    }
  }
  if (!ended && state.finishReason === undefined) throw new Error('the stream ended before the response was complete');
  return {
    finishReason: state.finishReason ?? 'stop',
    usage: state.usage ?? { promptTokens: 0, completionTokens: 0 },
    usageReported: state.usage !== undefined,
  };
}

function readJson(json: unknown, endpoint: UpstreamEndpoint, sink: UpstreamSink): ParsedResult {
  const r = (json ?? {}) as Raw;
  const choice = (Array.isArray(r.choices) ? (r.choices as Raw[])[0] : undefined) ?? {};
  const delta = choiceDelta(choice, endpoint, true);
  if (delta) sink.delta(delta);
  const usage = toUsage(r.usage);
  return { finishReason: toFinishReason(choice.finish_reason) ?? 'stop', usage: usage ?? { promptTokens: 0, completionTokens: 0 }, usageReported: usage !== undefined };
}
