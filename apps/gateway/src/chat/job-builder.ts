/**
 * Maps validated OpenAI requests to job payloads: sampling defaults, message content, one job per
 * prompt and per choice. Rejects what the spec allows but this server cannot honour, rather than
 * silently ignoring it.
 */
import type { ChatJobData, ChatMessage, CompletionJobData, SamplingParams } from '@switchyard/contracts';
import { parseDurationMs } from '@switchyard/runtime';
import type { CreateChatCompletionDto } from './create-chat-completion.dto';
import type { CreateCompletionDto } from './create-completion.dto';
import type { SamplingDto } from './sampling.dto';
import { checkToolTurns, parseResponseFormat, parseToolCalls, parseToolChoice, parseTools } from './chat-options';
import { OpenAIError } from '../core/openai-error';

/** OpenAI's default for the legacy completions endpoint. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

function sampling(dto: SamplingDto, maxTokens: number | undefined, choice: number): SamplingParams {
  const stop = dto.stop == null ? [] : typeof dto.stop === 'string' ? [dto.stop] : dto.stop;
  return {
    temperature: dto.temperature ?? 1,
    topP: dto.top_p ?? 1,
    topK: dto.top_k ?? undefined,
    minP: dto.min_p ?? undefined,
    repeatPenalty: dto.repeat_penalty ?? undefined,
    presencePenalty: dto.presence_penalty ?? undefined,
    frequencyPenalty: dto.frequency_penalty ?? undefined,
    // Each choice of n gets its own seed so choices differ, yet a request stays reproducible.
    seed: dto.seed == null ? undefined : dto.seed + choice,
    maxTokens,
    stop: stop.filter((s) => s.length > 0),
    ...(dto.logit_bias && Object.keys(dto.logit_bias).length > 0 ? { logitBias: dto.logit_bias } : {}),
  };
}

function keepAlive(dto: SamplingDto): number | undefined {
  return dto.keep_alive == null ? undefined : parseDurationMs(dto.keep_alive);
}

function messageText(content: CreateChatCompletionDto['messages'][number]['content'], index: number): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  content.forEach((part, p) => {
    const param = `messages[${index}].content[${p}]`;
    if (part.type === 'text') {
      if (typeof part.text !== 'string') throw OpenAIError.badRequest(`Invalid '${param}.text': expected a string.`, `${param}.text`);
      texts.push(part.text);
    } else if (part.type === 'image_url' || part.type === 'input_audio' || part.type === 'file') {
      throw OpenAIError.badRequest(
        `This model does not accept '${part.type}' content: it is a text-only model.`,
        param,
        'unsupported_content_type',
      );
    } else {
      throw OpenAIError.badRequest(`Invalid '${param}.type': unknown content part type '${part.type}'.`, `${param}.type`);
    }
  });
  return texts.join('\n');
}

/** Request messages → job messages: text parts joined, tool calls and tool answers kept. */
export function chatMessages(dtoMessages: CreateChatCompletionDto['messages']): ChatMessage[] {
  return dtoMessages.map((m, i) => {
    if (m.role === 'function') {
      throw OpenAIError.badRequest("Messages with role 'function' (deprecated) are not supported; use 'tool'.", `messages[${i}].role`, 'unsupported_role');
    }
    const message: ChatMessage = { role: m.role, content: messageText(m.content, i) };
    if (m.role === 'assistant') {
      const calls = parseToolCalls(m.tool_calls, i);
      if (calls) message.toolCalls = calls;
      if (m.reasoning_content) message.reasoning = m.reasoning_content;
    }
    if (m.role === 'tool') {
      message.toolCallId = m.tool_call_id;
      if (m.name) message.name = m.name;
    }
    return message;
  });
}

export function buildChatJobs(dto: CreateChatCompletionDto, model: string): ChatJobData[] {
  const messages = chatMessages(dto.messages);
  checkToolTurns(messages);
  if (dto.functions != null || dto.function_call != null) {
    const param = dto.functions != null ? 'functions' : 'function_call';
    throw OpenAIError.badRequest(`'${param}' is deprecated and not supported; use 'tools' and 'tool_choice'.`, param, 'unsupported_parameter');
  }
  const tools = parseTools(dto.tools);
  const toolChoice = parseToolChoice(dto.tool_choice, tools);
  const responseFormat = parseResponseFormat(dto.response_format);
  if (dto.grammar && responseFormat && responseFormat.type !== 'text') {
    throw OpenAIError.badRequest("Use either 'grammar' or a JSON 'response_format', not both.", 'grammar', 'invalid_value');
  }
  if (dto.top_logprobs != null && dto.logprobs !== true) {
    throw OpenAIError.badRequest("'top_logprobs' requires 'logprobs' to be true.", 'top_logprobs', 'invalid_value');
  }
  const maxTokens = dto.max_completion_tokens ?? dto.max_tokens ?? undefined;
  const n = dto.n ?? 1;
  return Array.from({ length: n }, (_, choice) => ({
    kind: 'chat',
    model,
    messages,
    sampling: sampling(dto, maxTokens, choice),
    keepAliveMs: keepAlive(dto),
    enqueuedAt: 0,
    ...(tools?.length ? { tools } : {}),
    ...(toolChoice ? { toolChoice } : {}),
    ...(dto.parallel_tool_calls != null ? { parallelToolCalls: dto.parallel_tool_calls } : {}),
    ...(responseFormat && responseFormat.type !== 'text' ? { responseFormat } : {}),
    ...(dto.grammar ? { grammar: dto.grammar } : {}),
    ...(dto.logprobs ? { logprobs: { top: dto.top_logprobs ?? 0 } } : {}),
    ...(dto.reasoning_effort ? { reasoningEffort: dto.reasoning_effort } : {}),
  }));
}

export function buildCompletionJobs(dto: CreateCompletionDto, model: string): CompletionJobData[] {
  if (dto.best_of != null && dto.best_of !== (dto.n ?? 1)) {
    throw OpenAIError.badRequest("'best_of' other than n is not supported.", 'best_of', 'unsupported_parameter');
  }
  if (dto.suffix) throw OpenAIError.badRequest("'suffix' is not supported.", 'suffix', 'unsupported_parameter');
  const p = dto.prompt;
  const prompts: Array<string | number[]> =
    typeof p === 'string' ? [p] : typeof p[0] === 'number' ? [p as number[]] : (p as Array<string | number[]>);
  const n = dto.n ?? 1;
  const maxTokens = dto.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS;
  // OpenAI orders choices prompt-major: index = prompt * n + choice.
  return prompts.flatMap((prompt) =>
    Array.from({ length: n }, (_, choice) => ({
      kind: 'completion' as const,
      model,
      prompt,
      sampling: sampling(dto, maxTokens, choice),
      keepAliveMs: keepAlive(dto),
      enqueuedAt: 0,
      ...(dto.echo ? { echo: true } : {}),
      ...(dto.logprobs != null ? { logprobs: { top: dto.logprobs } } : {}),
      ...(dto.grammar ? { grammar: dto.grammar } : {}),
    })),
  );
}
