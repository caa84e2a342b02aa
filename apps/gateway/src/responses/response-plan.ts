/**
 * A POST /v1/responses request, checked and planned: the chat messages it runs (instructions, the
 * conversation of previous_response_id, the new input), the chat request that carries them (so the
 * job builders of /v1/chat/completions make the jobs, for local and pass-through models alike), and
 * the response object as created, echoing the request as OpenAI's does.
 */
import { randomBytes } from 'node:crypto';
import type { ModelDescriptor, QueuedJobData } from '@switchyard/contracts';
import { OpenAIError } from '../core/openai-error';
import type { CreateChatCompletionDto } from '../chat/create-chat-completion.dto';
import { chatJobsFor, passesThrough } from '../chat/upstream-job-builder';
import type { ResponseObject } from './response-builder';
import type { StoredResponse } from './response-store';
import type { CreateResponseDto } from './create-response.dto';
import {
  callsOf,
  checkInclude,
  checkMetadata,
  parseInput,
  parseReasoning,
  parseResponseToolChoice,
  parseResponseTools,
  parseTextFormat,
  type ChatMessageJson,
  type InputItemResource,
} from './responses-input';

export interface ResponsePlan {
  model: ModelDescriptor;
  /** The response as created (status queued or in_progress, no output yet). */
  response: ResponseObject;
  /** Instructions, then the conversation so far, then this input. */
  messages: ChatMessageJson[];
  /** How many leading messages are instructions (truncation keeps them). */
  front: number;
  /** The conversation this response continues, then its input (stored with the output added). */
  context: ChatMessageJson[];
  inputItems: InputItemResource[];
  /** The jobs for a message list (the whole one, or what truncation left). */
  jobsFor(messages: ChatMessageJson[]): QueuedJobData[];
  summary: boolean;
  logprobs: boolean;
}

export function responseId(): string {
  return `resp_${randomBytes(24).toString('hex')}`;
}

export function planResponse(dto: CreateResponseDto, model: ModelDescriptor, previous: StoredResponse | undefined): ResponsePlan {
  if (dto.conversation != null) {
    throw OpenAIError.badRequest("'conversation' is not supported (there is no Conversations API here); use 'previous_response_id'.", 'conversation', 'unsupported_parameter');
  }
  if (dto.prompt != null) throw OpenAIError.badRequest("'prompt' (stored prompt templates) is not supported; send 'instructions' and 'input'.", 'prompt', 'unsupported_parameter');
  const store = dto.store !== false;
  if (dto.background === true && !store) throw OpenAIError.badRequest("'background' requires 'store' to be true: a background response is read back by its id.", 'background', 'invalid_value');
  if (dto.stream_options != null && dto.stream !== true) throw OpenAIError.badRequest("'stream_options' is only allowed when 'stream' is true.", 'stream_options', 'invalid_value');
  checkMetadata(dto.metadata);
  const { logprobs } = checkInclude(dto.include);
  const reasoning = parseReasoning(dto.reasoning);
  const allTools = parseResponseTools(dto.tools);
  const { choice, tools } = parseResponseToolChoice(dto.tool_choice, allTools);
  const responseFormat = parseTextFormat(dto.text);

  const history = previous?.context ?? [];
  const calls = callsOf(history);
  const input = parseInput(dto.input, { acceptsImages: passesThrough(model), knownCalls: calls.known, openCalls: calls.open });
  const front: ChatMessageJson[] = dto.instructions ? [{ role: 'system', content: dto.instructions }] : [];
  const context = [...history, ...input.messages];

  const wantLogprobs = logprobs || (dto.top_logprobs ?? 0) > 0;
  const chat = (messages: ChatMessageJson[]): Record<string, unknown> => ({
    model: dto.model,
    messages,
    ...(tools?.length ? { tools } : {}),
    ...(choice !== undefined ? { tool_choice: choice } : {}),
    ...(dto.parallel_tool_calls != null ? { parallel_tool_calls: dto.parallel_tool_calls } : {}),
    ...(responseFormat ? { response_format: responseFormat } : {}),
    ...(dto.max_output_tokens != null ? { max_tokens: dto.max_output_tokens } : {}),
    ...(dto.temperature != null ? { temperature: dto.temperature } : {}),
    ...(dto.top_p != null ? { top_p: dto.top_p } : {}),
    ...(wantLogprobs ? { logprobs: true, top_logprobs: dto.top_logprobs ?? 0 } : {}),
    ...(reasoning.effort ? { reasoning_effort: reasoning.effort } : {}),
    ...(dto.user ? { user: dto.user } : {}),
    ...(dto.keep_alive != null ? { keep_alive: dto.keep_alive } : {}),
  });

  const response: ResponseObject = {
    id: responseId(),
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: dto.background === true ? 'queued' : 'in_progress',
    background: dto.background === true,
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: dto.instructions ?? null,
    max_output_tokens: dto.max_output_tokens ?? null,
    max_tool_calls: dto.max_tool_calls ?? null,
    model: model.name,
    output: [],
    output_text: '',
    parallel_tool_calls: dto.parallel_tool_calls ?? true,
    previous_response_id: dto.previous_response_id ?? null,
    prompt_cache_key: dto.prompt_cache_key ?? null,
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    safety_identifier: dto.safety_identifier ?? null,
    service_tier: 'default',
    store,
    temperature: dto.temperature ?? 1,
    text: { format: (dto.text?.format as Record<string, unknown> | undefined) ?? { type: 'text' }, verbosity: (dto.text?.verbosity as string | undefined) ?? 'medium' },
    tool_choice: dto.tool_choice ?? 'auto',
    tools: (dto.tools ?? []).map((t) => ({ ...(t as Record<string, unknown>), strict: (t as { strict?: unknown }).strict !== false })),
    top_logprobs: dto.top_logprobs ?? 0,
    top_p: dto.top_p ?? 1,
    truncation: dto.truncation ?? 'disabled',
    // OpenAI's schema has no null for these two: absent until known.
    ...(dto.user != null ? { user: dto.user } : {}),
    metadata: dto.metadata ?? {},
  };
  return {
    model,
    response,
    messages: [...front, ...context],
    front: front.length,
    context,
    inputItems: input.items,
    jobsFor: (messages) => {
      const body = chat(messages);
      return chatJobsFor(model, body as unknown as CreateChatCompletionDto, body);
    },
    summary: reasoning.summary !== undefined,
    logprobs: wantLogprobs,
  };
}
