/**
 * Token tools on a loaded model: tokenize, detokenize, render a chat through the template, and the
 * most likely next tokens for a prompt (with the raw distribution or after the request's samplers).
 */
import type { TokenAnswer, TokenRequest } from '@switchyard/contracts';
import type { DecodeGate } from './decode-gate';
import { eraseAfter } from './generation';
import { GenerationRejected } from './generation-errors';
import type { LlamaContextSequence, LlamaModel, Token } from './node-llama-cpp';
import { topEntries } from './output/token-logprobs';
import type { PromptBuilder } from './prompt-builder';

export interface TokenToolsContext {
  model: LlamaModel;
  prompts: PromptBuilder;
  vocabularySize: number;
  contextSize: number;
  gate: DecodeGate;
  /** Runs `use` on a free sequence (only `logits` needs one). */
  withSequence<T>(tokens: Token[], use: (sequence: LlamaContextSequence) => Promise<T>): Promise<T>;
}

function tokenize(model: LlamaModel, text: string, addSpecial: boolean, parseSpecial: boolean): Token[] {
  const tokens = model.tokenize(text, parseSpecial);
  const bos = model.tokens.bos;
  if (addSpecial && bos !== null && model.tokens.shouldPrependBosToken) tokens.unshift(bos);
  return tokens;
}

export async function answerTokenRequest(ctx: TokenToolsContext, request: TokenRequest): Promise<TokenAnswer> {
  const { model } = ctx;
  switch (request.op) {
    case 'tokenize': {
      const tokens = tokenize(model, request.text, request.addSpecial, request.parseSpecial);
      if (!request.withPieces) return { tokens };
      return { tokens: tokens.map((id) => ({ id, piece: model.detokenize([id], true, [id]) })) };
    }
    case 'detokenize': {
      const bad = request.tokens.findIndex((t) => t >= ctx.vocabularySize);
      if (bad >= 0) {
        throw new GenerationRejected(
          `Invalid 'tokens[${bad}]': token id ${request.tokens[bad]} is outside this model's vocabulary (0-${ctx.vocabularySize - 1}).`,
          'invalid_token',
          `tokens[${bad}]`,
        );
      }
      return { content: model.detokenize(request.tokens as Token[], true) };
    }
    case 'apply-template': {
      const built = ctx.prompts.build({
        kind: 'chat',
        model: '',
        messages: request.messages,
        tools: request.tools,
        sampling: { temperature: 1, topP: 1, stop: [] },
        enqueuedAt: 0,
      });
      // The text of the very tokens the model is given, special tokens as the model writes them
      // (`<s>`, `<|im_start|>`): LlamaText's own toString writes a BOS token as the word 'BOS'.
      return { prompt: model.detokenize(built.tokens, true) };
    }
    case 'logits': {
      const tokens = tokenize(model, request.text, true, false);
      if (tokens.length === 0) throw new GenerationRejected('The prompt is empty.', 'empty_prompt', 'prompt');
      if (tokens.length >= ctx.contextSize) {
        throw new GenerationRejected(
          `This model's maximum context length is ${ctx.contextSize} tokens. However, your prompt has ${tokens.length} tokens.`,
          'context_length_exceeded',
          'prompt',
        );
      }
      return ctx.withSequence(tokens, async (sequence) => {
        const keep = Math.min(tokens.length - 1, commonPrefix(sequence.contextTokens, tokens));
        await eraseAfter(sequence, keep, ctx.gate);
        const s = request.sampling;
        // Temperature 0 gives the model's own distribution (softmax of the logits); with the
        // samplers, the distribution they leave.
        const iterator = sequence.evaluateWithMetadata(
          tokens.slice(keep),
          { probabilities: true },
          s
            ? { temperature: s.temperature, topK: s.topK, topP: s.topP, minP: s.minP, seed: s.seed }
            : { temperature: 0 },
        );
        try {
          const first = await iterator.next();
          if (first.done) return {};
          const probabilities = first.value.probabilities;
          return Object.fromEntries(topEntries(probabilities, request.top).map(([t, p]) => [model.detokenize([t], true, [t]), p]));
        } finally {
          await iterator.return(undefined);
        }
      });
    }
  }
}

function commonPrefix(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
