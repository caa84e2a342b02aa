/**
 * Prompt building: a job's messages (with tool calls and their results) or raw prompt → tokens
 * through the model's chat template, plus the template's own stop texts, its tool-call syntax and
 * whether the prompt ends inside an opened thinking block.
 */
import type { ChatJobData, LlmJobData } from '@switchyard/contracts';
import { GenerationRejected } from './generation-errors';
import type { ChatHistoryItem, ChatModelFunctions, LlamaModel, NodeLlamaCppModule, Token } from './node-llama-cpp';
import type { ToolCallSyntax } from './output/tool-calls';

type ChatWrapper = NonNullable<ReturnType<NodeLlamaCppModule['resolveChatWrapper']>>;

export interface BuiltPrompt {
  tokens: Token[];
  templateStops: string[];
  /** The prompt ends inside an opened thinking block (e.g. a template that ends with `<think>\n`). */
  endsInThinking: boolean;
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class PromptBuilder {
  private readonly wrapper: ChatWrapper;
  /** The template's syntax for one call, when it has one. */
  readonly toolSyntax: ToolCallSyntax | undefined;
  /** Append the opening thinking marker to chat prompts (see opensThinkingItself). */
  private readonly openThinking: boolean;

  constructor(
    private readonly lib: NodeLlamaCppModule,
    private readonly model: LlamaModel,
    private readonly thinkingOpen?: string,
  ) {
    this.wrapper = lib.resolveChatWrapper(model, { warningLogs: false });
    this.toolSyntax = this.readToolSyntax();
    this.openThinking = this.opensThinkingItself();
  }

  /**
   * Whether the assistant's turn must open a thinking block that the wrapper leaves out: templates
   * such as DeepSeek-R1's write `<think>\n` in the generation prompt (`add_generation_prompt`), which
   * node-llama-cpp's wrappers render the turn without.
   */
  private opensThinkingItself(): boolean {
    const open = this.thinkingOpen;
    if (open === undefined) return false;
    const template = (this.model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template;
    if (typeof template !== 'string') return false;
    const block = /add_generation_prompt\s*-?%\}([\s\S]*?)\{%-?\s*endif/.exec(template)?.[1] ?? '';
    if (!block.includes(open) || block.includes(open.replace('<', '</'))) return false;
    const probe: ChatHistoryItem[] = [
      { type: 'user', text: 'x' },
      { type: 'model', response: [] },
    ];
    return !this.wrapper.generateContextState({ chatHistory: probe }).contextText.toString().trimEnd().endsWith(open);
  }

  get wrapperName(): string {
    return this.wrapper.wrapperName;
  }

  private text(value: unknown): string {
    if (value == null) return '';
    return this.lib.LlamaText(value as Parameters<NodeLlamaCppModule['LlamaText']>[0]).toString();
  }

  private readToolSyntax(): ToolCallSyntax | undefined {
    const call = this.wrapper.settings?.functions?.call;
    if (!call) return undefined;
    const prefix = this.text(call.prefix);
    if (prefix.trim().length === 0) return undefined;
    const alternates = ((call as { prefixAlternateMatches?: unknown[] }).prefixAlternateMatches ?? []).map((p) => this.text(p));
    return {
      prefixes: [...new Set([prefix, prefix.trim(), ...alternates].filter((p) => p.length > 0))],
      paramsPrefix: this.text(call.paramsPrefix),
      suffix: this.text(call.suffix),
    };
  }

  private history(job: ChatJobData): ChatHistoryItem[] {
    const results = new Map<string, string>();
    for (const m of job.messages) if (m.role === 'tool' && m.toolCallId) results.set(m.toolCallId, m.content);
    const history: ChatHistoryItem[] = [];
    for (const m of job.messages) {
      if (m.role === 'assistant') {
        const response: Extract<ChatHistoryItem, { type: 'model' }>['response'] = [];
        if (m.content.length > 0) response.push(m.content);
        for (const [i, call] of (m.toolCalls ?? []).entries()) {
          response.push({
            type: 'functionCall',
            name: call.name,
            params: parseArguments(call.arguments),
            result: parseArguments(results.get(call.id) ?? ''),
            startsNewChunk: i === 0,
          });
        }
        history.push({ type: 'model', response });
      } else if (m.role === 'user') history.push({ type: 'user', text: m.content });
      else if (m.role === 'tool') continue; // rendered with the call it answers
      else history.push({ type: 'system', text: m.content });
    }
    // The template adds the assistant's opening only when the history ends with a model turn.
    history.push({ type: 'model', response: [] });
    return history;
  }

  private functions(job: ChatJobData): ChatModelFunctions | undefined {
    if (!job.tools?.length || job.toolChoice === 'none') return undefined;
    const functions: Record<string, ChatModelFunctions[string]> = {};
    for (const t of job.tools) functions[t.name] = { description: t.description, params: (t.parameters ?? undefined) as never };
    return functions;
  }

  /** Tokens of the prompt plus extra stop texts the chat template declares. */
  build(job: LlmJobData): BuiltPrompt {
    if (job.kind === 'completion') {
      if (Array.isArray(job.prompt)) return { tokens: job.prompt as Token[], templateStops: [], endsInThinking: false };
      const tokens = this.model.tokenize(job.prompt, false);
      const bos = this.model.tokens.bos;
      if (bos !== null && this.model.tokens.shouldPrependBosToken) tokens.unshift(bos);
      return { tokens, templateStops: [], endsInThinking: false };
    }
    const availableFunctions = this.functions(job);
    let state: ReturnType<ChatWrapper['generateContextState']>;
    try {
      state = this.wrapper.generateContextState({ chatHistory: this.history(job), availableFunctions, documentFunctionParams: true });
    } catch (err) {
      // The template documents each function's schema; one it cannot read is the client's error.
      if (availableFunctions === undefined) throw err;
      throw new GenerationRejected(`The chat template could not render the tools' parameter schemas: ${(err as Error).message}`, 'invalid_tool_schema', 'tools');
    }
    const tokens = state.contextText.tokenize(this.model.tokenizer);
    let text = state.contextText.toString();
    if (this.openThinking && this.thinkingOpen !== undefined) {
      tokens.push(...this.model.tokenize(`${this.thinkingOpen}\n`, true));
      text += `${this.thinkingOpen}\n`;
    }
    const templateStops: string[] = [];
    for (const trigger of state.stopGenerationTriggers) {
      // Triggers made only of special tokens end generation as end-of-generation tokens; text ones
      // (e.g. "\n### Human:") become stop strings.
      const text = trigger.values.every((v) => typeof v === 'string') ? trigger.values.join('') : '';
      if (text.length > 0) templateStops.push(text);
    }
    const endsInThinking = this.thinkingOpen !== undefined && text.trimEnd().endsWith(this.thinkingOpen);
    return { tokens, templateStops, endsInThinking };
  }
}
