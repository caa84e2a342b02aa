/**
 * OpenAI's wire shapes for chat completions and legacy completions, streamed and not. Workers emit
 * neutral events; only this file knows what OpenAI's JSON looks like.
 */
import { randomBytes } from 'node:crypto';
import type OpenAI from 'openai';
import type { DeltaEvent, FinishReason, TokenLogprob, ToolCall, Usage } from '@switchyard/contracts';

/** OpenAI's usage, with the details Switchyard always fills. */
export type OpenAIUsage = OpenAI.CompletionUsage & {
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
};

/** Switchyard's extra on chat messages and deltas: the model's reasoning text (as vLLM and llama-server name it). */
type WithReasoning<T> = T & { reasoning_content?: string };
type ChatChunkChoice = Omit<OpenAI.ChatCompletionChunk.Choice, 'delta'> & { delta: WithReasoning<OpenAI.ChatCompletionChunk.Choice.Delta> };
export type ChatChunk = Omit<OpenAI.ChatCompletionChunk, 'choices' | 'usage'> & { choices: ChatChunkChoice[]; usage?: OpenAIUsage | null };
export type ChatResponse = Omit<OpenAI.ChatCompletion, 'choices'> & {
  choices: Array<Omit<OpenAI.ChatCompletion.Choice, 'message'> & { message: WithReasoning<OpenAI.ChatCompletionMessage> }>;
};
/** A streamed completion chunk: OpenAI's Completion, whose choices carry `finish_reason: null` until the last. */
type CompletionChunkChoice = Omit<OpenAI.CompletionChoice, 'finish_reason'> & { finish_reason: OpenAI.CompletionChoice['finish_reason'] | null };
export type CompletionChunk = Omit<OpenAI.Completion, 'choices' | 'usage'> & { choices: CompletionChunkChoice[]; usage?: OpenAIUsage | null };

export function toOpenAIUsage(u: Usage): OpenAIUsage {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
  };
}

/** Everything one choice produced, for non-streaming answers. */
export interface ChoiceResult {
  text: string;
  reasoning: string;
  toolCalls: ToolCall[];
  /** Present when the request asked for log probabilities. */
  logprobs: TokenLogprob[] | undefined;
  finishReason: FinishReason;
  /** The prompt, for completions with `echo`. */
  echo: string | undefined;
}

/** Everything that differs between /v1/chat/completions and /v1/completions. */
export interface ResponseFormatter<Chunk extends object = object, Full extends object = object> {
  /** Chunks sent once streaming starts (chat announces the assistant role per choice). */
  opening(choices: number): Chunk[];
  /** The echoed prompt of a completion, sent before its first token. */
  echo(index: number, text: string): Chunk | undefined;
  delta(index: number, delta: DeltaEvent): Chunk | undefined;
  finish(index: number, reason: FinishReason): Chunk;
  usage(usage: OpenAIUsage): Chunk;
  complete(choices: ChoiceResult[], usage: OpenAIUsage): Full;
}

function newId(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString('base64url')}`;
}

/** Id, timestamps and the envelope every chunk and response of one request shares. */
abstract class BaseFormatter<Choice, Chunk extends { choices: Choice[] }, Full extends object> implements ResponseFormatter<Chunk, Full> {
  protected readonly id: string;
  protected readonly created = Math.floor(Date.now() / 1000);

  constructor(
    idPrefix: string,
    private readonly chunkObject: string,
    protected readonly model: string,
    /** With include_usage, OpenAI puts `usage: null` on every chunk before the last. */
    private readonly includeUsage: boolean,
    /** Whether the request asked for log probabilities (else `logprobs: null`). */
    protected readonly wantLogprobs: boolean,
  ) {
    this.id = newId(idPrefix);
  }

  /** The envelope; each subclass fixes Chunk to OpenAI's type for its `object` name. */
  protected chunk(choices: Choice[]): Chunk {
    const envelope = {
      id: this.id,
      object: this.chunkObject,
      created: this.created,
      model: this.model,
      choices,
      ...(this.includeUsage ? { usage: null } : {}),
    };
    return envelope as unknown as Chunk;
  }

  usage(usage: OpenAIUsage): Chunk {
    return { ...this.chunk([]), usage };
  }

  echo(_index: number, _text: string): Chunk | undefined {
    return undefined;
  }

  abstract opening(choices: number): Chunk[];
  abstract delta(index: number, delta: DeltaEvent): Chunk | undefined;
  abstract finish(index: number, reason: FinishReason): Chunk;
  abstract complete(choices: ChoiceResult[], usage: OpenAIUsage): Full;
}

function chatLogprobs(entries: readonly TokenLogprob[]): OpenAI.ChatCompletion.Choice.Logprobs {
  return {
    content: entries.map((e) => ({
      token: e.token,
      logprob: e.logprob,
      bytes: e.bytes,
      top_logprobs: e.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
    })),
    refusal: null,
  };
}

export class ChatFormatter extends BaseFormatter<ChatChunkChoice, ChatChunk, ChatResponse> {
  constructor(model: string, includeUsage: boolean, wantLogprobs = false) {
    super('chatcmpl', 'chat.completion.chunk', model, includeUsage, wantLogprobs);
  }

  opening(choices: number): ChatChunk[] {
    return Array.from({ length: choices }, (_, index) =>
      this.chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
    );
  }

  delta(index: number, event: DeltaEvent): ChatChunk | undefined {
    const delta: ChatChunkChoice['delta'] = {};
    if (event.text.length > 0) delta.content = event.text;
    if (event.reasoning) delta.reasoning_content = event.reasoning;
    if (event.toolCalls?.length) {
      delta.tool_calls = event.toolCalls.map((c) => ({
        index: c.index,
        ...(c.id !== undefined ? { id: c.id, type: 'function' as const } : {}),
        function: { ...(c.name !== undefined ? { name: c.name } : {}), arguments: c.arguments ?? '' },
      }));
    }
    const logprobs = this.wantLogprobs && event.logprobs?.length ? chatLogprobs(event.logprobs) : null;
    if (Object.keys(delta).length === 0 && logprobs === null) return undefined;
    return this.chunk([{ index, delta, logprobs, finish_reason: null }]);
  }

  finish(index: number, reason: FinishReason): ChatChunk {
    return this.chunk([{ index, delta: {}, logprobs: null, finish_reason: reason }]);
  }

  complete(choices: ChoiceResult[], usage: OpenAIUsage): ChatResponse {
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: choices.map((c, index) => ({
        index,
        message: {
          role: 'assistant',
          // OpenAI sends null content when the turn only called tools.
          content: c.toolCalls.length > 0 && c.text.length === 0 ? null : c.text,
          refusal: null,
          ...(c.reasoning.length > 0 ? { reasoning_content: c.reasoning } : {}),
          ...(c.toolCalls.length > 0
            ? { tool_calls: c.toolCalls.map((t) => ({ id: t.id, type: 'function' as const, function: { name: t.name, arguments: t.arguments } })) }
            : {}),
        },
        logprobs: this.wantLogprobs && c.logprobs ? chatLogprobs(c.logprobs) : null,
        finish_reason: c.finishReason,
      })),
      usage,
    };
  }
}

/** The legacy completions `logprobs` object; offsets count characters from the start of the text. */
function legacyLogprobs(entries: readonly TokenLogprob[], startOffset: number): OpenAI.CompletionChoice.Logprobs {
  const offsets: number[] = [];
  let at = startOffset;
  for (const e of entries) {
    offsets.push(at);
    at += e.token.length;
  }
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top.map((t) => [t.token, t.logprob]))),
    text_offset: offsets,
  };
}

export class CompletionFormatter extends BaseFormatter<CompletionChunkChoice, CompletionChunk, OpenAI.Completion> {
  /** Characters sent so far per choice, for `text_offset`. */
  private readonly offsets = new Map<number, number>();

  constructor(model: string, includeUsage: boolean, wantLogprobs = false) {
    super('cmpl', 'text_completion', model, includeUsage, wantLogprobs);
  }

  opening(): CompletionChunk[] {
    return [];
  }

  private advance(index: number, text: string): number {
    const at = this.offsets.get(index) ?? 0;
    this.offsets.set(index, at + text.length);
    return at;
  }

  override echo(index: number, text: string): CompletionChunk {
    this.advance(index, text);
    return this.chunk([{ index, text, logprobs: null, finish_reason: null }]);
  }

  delta(index: number, event: DeltaEvent): CompletionChunk | undefined {
    const at = this.advance(index, event.text);
    const logprobs = this.wantLogprobs && event.logprobs?.length ? legacyLogprobs(event.logprobs, at) : null;
    if (event.text.length === 0 && logprobs === null) return undefined;
    return this.chunk([{ index, text: event.text, logprobs, finish_reason: null }]);
  }

  finish(index: number, reason: FinishReason): CompletionChunk {
    return this.chunk([{ index, text: '', logprobs: null, finish_reason: completionFinish(reason) }]);
  }

  complete(choices: ChoiceResult[], usage: OpenAIUsage): OpenAI.Completion {
    return {
      id: this.id,
      object: 'text_completion',
      created: this.created,
      model: this.model,
      choices: choices.map((c, index) => {
        const echo = c.echo ?? '';
        return {
          index,
          text: echo + c.text,
          logprobs: this.wantLogprobs ? legacyLogprobs(c.logprobs ?? [], echo.length) : null,
          finish_reason: completionFinish(c.finishReason),
        };
      }),
      usage,
    };
  }
}

/** Completions have no tools, so a completion never ends with `tool_calls`; the type says so. */
function completionFinish(reason: FinishReason): OpenAI.CompletionChoice['finish_reason'] {
  return reason === 'tool_calls' ? 'stop' : reason;
}
