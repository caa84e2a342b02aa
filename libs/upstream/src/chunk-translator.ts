/**
 * OpenAI-shaped chunks and responses (chat or legacy completions) → the neutral deltas every
 * backend emits: text, reasoning, tool-call fragments and log probabilities, then finish reason and
 * usage. Upstream JSON is never trusted to have the documented shape: every field is checked, and
 * the spellings servers differ on (reasoning vs reasoning_content, function_call) are folded in.
 */
import type { DeltaEvent, FinishReason, TokenLogprob, ToolCallDelta, TopLogprob, Usage, UpstreamEndpoint } from '@switchyard/contracts';
import { badChunkFailure, errorChunkFailure } from './upstream-failure';

export type UpstreamDelta = Omit<DeltaEvent, 'type' | 'seq'>;

export interface UpstreamSink {
  delta(delta: UpstreamDelta): void;
  /** The whole JSON answer of a non-generating endpoint (embeddings). */
  result?(data: Record<string, unknown>): void;
}

/** What a finished response said about itself; usage is zeros when the upstream sent none. */
export interface TranslatedResult {
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

/** Applies one streamed chunk's data; returns true for the end marker. */
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
      throw badChunkFailure(this.label);
    }
    if (chunk.error !== undefined) throw errorChunkFailure(this.label, chunk.error);
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

/**
 * A stream of chunk data (SSE events' data) to the end marker. A stream that stops without the
 * marker or a finish reason was cut off, which the caller reports as a broken response.
 */
export async function translateStream(chunks: AsyncIterable<string>, endpoint: UpstreamEndpoint, sink: UpstreamSink): Promise<TranslatedResult> {
  const state = new StreamState(endpoint, sink);
  let ended = false;
  for await (const data of chunks) {
    if (state.apply(data)) {
      ended = true;
      break;
    }
  }
  if (!ended && state.finishReason === undefined) throw new Error('the stream ended before the response was complete');
  return {
    finishReason: state.finishReason ?? 'stop',
    usage: state.usage ?? { promptTokens: 0, completionTokens: 0 },
    usageReported: state.usage !== undefined,
  };
}

/** A whole (non-streamed) response: its first choice as one delta. */
export function translateWhole(json: unknown, endpoint: UpstreamEndpoint, sink: UpstreamSink): TranslatedResult {
  const r = (json ?? {}) as Raw;
  const choice = (Array.isArray(r.choices) ? (r.choices as Raw[])[0] : undefined) ?? {};
  const delta = choiceDelta(choice, endpoint, true);
  if (delta) sink.delta(delta);
  const usage = toUsage(r.usage);
  return { finishReason: toFinishReason(choice.finish_reason) ?? 'stop', usage: usage ?? { promptTokens: 0, completionTokens: 0 }, usageReported: usage !== undefined };
}
