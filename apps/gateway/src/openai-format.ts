/**
 * OpenAI's wire shapes for chat completions and legacy completions, streamed and not. Workers emit
 * neutral events; only this file knows what OpenAI's JSON looks like.
 */
import { randomBytes } from 'node:crypto';
import type { FinishReason, Usage } from '@switchyard/contracts';

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function toOpenAIUsage(u: Usage): OpenAIUsage {
  return { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens };
}

export interface ChoiceResult {
  text: string;
  finishReason: FinishReason;
}

/** Everything that differs between /v1/chat/completions and /v1/completions. */
export interface ResponseFormatter {
  /** Chunks sent once streaming starts (chat announces the assistant role per choice). */
  opening(choices: number): object[];
  delta(index: number, text: string): object;
  finish(index: number, reason: FinishReason): object;
  usage(usage: OpenAIUsage): object;
  complete(choices: ChoiceResult[], usage: OpenAIUsage): object;
}

function newId(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString('base64url')}`;
}

/** Id, timestamps and the envelope every chunk and response of one request shares. */
abstract class BaseFormatter implements ResponseFormatter {
  protected readonly id: string;
  protected readonly created = Math.floor(Date.now() / 1000);

  constructor(
    idPrefix: string,
    private readonly chunkObject: string,
    protected readonly model: string,
    /** With include_usage, OpenAI puts `usage: null` on every chunk before the last. */
    private readonly includeUsage: boolean,
  ) {
    this.id = newId(idPrefix);
  }

  protected chunk(choices: object[]): object {
    return {
      id: this.id,
      object: this.chunkObject,
      created: this.created,
      model: this.model,
      choices,
      ...(this.includeUsage ? { usage: null } : {}),
    };
  }

  usage(usage: OpenAIUsage): object {
    return { ...this.chunk([]), usage };
  }

  abstract opening(choices: number): object[];
  abstract delta(index: number, text: string): object;
  abstract finish(index: number, reason: FinishReason): object;
  abstract complete(choices: ChoiceResult[], usage: OpenAIUsage): object;
}

export class ChatFormatter extends BaseFormatter {
  constructor(model: string, includeUsage: boolean) {
    super('chatcmpl', 'chat.completion.chunk', model, includeUsage);
  }

  opening(choices: number): object[] {
    return Array.from({ length: choices }, (_, index) =>
      this.chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
    );
  }

  delta(index: number, text: string): object {
    return this.chunk([{ index, delta: { content: text }, logprobs: null, finish_reason: null }]);
  }

  finish(index: number, reason: FinishReason): object {
    return this.chunk([{ index, delta: {}, logprobs: null, finish_reason: reason }]);
  }

  complete(choices: ChoiceResult[], usage: OpenAIUsage): object {
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: choices.map((c, index) => ({
        index,
        message: { role: 'assistant', content: c.text, refusal: null },
        logprobs: null,
        finish_reason: c.finishReason,
      })),
      usage,
    };
  }
}

export class CompletionFormatter extends BaseFormatter {
  constructor(model: string, includeUsage: boolean) {
    super('cmpl', 'text_completion', model, includeUsage);
  }

  opening(): object[] {
    return [];
  }

  delta(index: number, text: string): object {
    return this.chunk([{ index, text, logprobs: null, finish_reason: null }]);
  }

  finish(index: number, reason: FinishReason): object {
    return this.chunk([{ index, text: '', logprobs: null, finish_reason: reason }]);
  }

  complete(choices: ChoiceResult[], usage: OpenAIUsage): object {
    return {
      id: this.id,
      object: 'text_completion',
      created: this.created,
      model: this.model,
      choices: choices.map((c, index) => ({ index, text: c.text, logprobs: null, finish_reason: c.finishReason })),
      usage,
    };
  }
}
