/**
 * What one generation is asked to produce and how it reports: the per-job output plan (grammar,
 * tools, reasoning, log probabilities, logit bias) and the sink, deltas and result the generation
 * loop hands back.
 */
import type { FinishReason, ToolCallDelta, TokenLogprob, Usage } from '@switchyard/contracts';
import type { LlamaGrammar, Token, TokenBias } from './node-llama-cpp';
import type { ReasoningMarkers } from './output/reasoning';
import type { ToolCallSyntax } from './output/tool-calls';

export interface StartInfo {
  promptTokens: number;
  cachedTokens: number;
  maxTokensClamped?: number;
}

export interface OutputDelta {
  text: string;
  reasoning?: string;
  toolCalls?: ToolCallDelta[];
  logprobs?: TokenLogprob[];
}

export interface GenerationSink {
  start(info: StartInfo): void;
  delta(delta: OutputDelta): void;
}

export interface GenerationResult {
  finishReason: FinishReason;
  usage: Usage;
  aborted: boolean;
}

/** How the output is shaped beyond plain text; decided per job by the model host. */
export interface OutputPlan {
  /** Constrains the whole output (raw grammar, response_format, forced tool calls). */
  grammar?: LlamaGrammar;
  /** The output is forced tool calls as JSON. */
  forcedTools?: boolean;
  /** The model may call tools in its template's syntax; the rest of a call is then constrained. */
  autoTools?: { syntax: ToolCallSyntax; restGrammar(after: string): Promise<LlamaGrammar | undefined> };
  reasoning?: { markers: ReasoningMarkers; startInside: boolean };
  logprobs?: { top: number; textOf(token: Token): string };
  tokenBias?: TokenBias;
  /** The tokens `tokenBias` never allows (logit_bias of -100), for the sampling guard. */
  bannedTokens?: ReadonlySet<Token>;
  /** A strict structured output's check of the whole answer (what is wrong, or undefined). */
  validate?: (output: string) => string | undefined;
}
