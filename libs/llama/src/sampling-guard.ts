/**
 * Keeps llama.cpp's sampler away from the state it cannot survive: no token left to sample. When a
 * grammar (together with the tokens `logit_bias` bans) allows no token at some step, llama.cpp
 * samples one anyway and then throws while accepting it ("Unexpected empty grammar stack");
 * node-llama-cpp lets that rejection escape its batch dispatcher unhandled, which ends the worker
 * process, and the generation that caused it would wait forever. Checking, before each sampling
 * step, that some token is still allowed lets the request be rejected (at its start) or end cleanly
 * (later) instead, with no effect on other sequences.
 */
import type { LlamaGrammarEvaluationState, LlamaModel, Token } from './node-llama-cpp';

/**
 * The one native check the sampler itself applies per candidate token (node-llama-cpp uses it the
 * same way for token prediction; it is not exported, hence the narrow internal types).
 */
interface GrammarBindings {
  _llama: { _bindings: { AddonSampler: { canBeNextTokenForGrammarEvaluationState(state: unknown, token: Token): boolean } } };
}

export class SamplingGuard {
  private readonly canBeNext: (state: LlamaGrammarEvaluationState, token: Token) => boolean;

  constructor(
    model: LlamaModel,
    private readonly vocabularySize: number,
  ) {
    const addon = (model as unknown as GrammarBindings)._llama._bindings.AddonSampler;
    this.canBeNext = (state, token) => addon.canBeNextTokenForGrammarEvaluationState((state as unknown as { _state: unknown })._state, token);
  }

  /**
   * Whether some token may be sampled next: one the grammar state accepts (an end-of-generation
   * token counts once the grammar is complete) and `banned` does not exclude. Byte tokens come early
   * in llama vocabularies, so an allowed one is usually found within a few hundred checks; only a
   * dead end scans the whole vocabulary (about 10 ms for 32k tokens), once.
   */
  allowsSomeToken(state: LlamaGrammarEvaluationState | undefined, banned: ReadonlySet<Token> = new Set()): boolean {
    if (state === undefined) return banned.size < this.vocabularySize;
    for (let t = 0; t < this.vocabularySize; t++) {
      const token = t as Token;
      if (!banned.has(token) && this.canBeNext(state, token)) return true;
    }
    return false;
  }
}
