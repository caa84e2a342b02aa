/**
 * POST /v1/chat/completions body.
 */
import { ArrayNotEmpty, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { IsJsonType, isJsonObject, Nested, isString } from '../core/validation';
import { SamplingDto } from './sampling.dto';
import { ApiProperty } from '@nestjs/swagger';

export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;

const isContentPart = (p: unknown): boolean =>
  typeof p === 'object' && p !== null && !Array.isArray(p) && typeof (p as { type?: unknown }).type === 'string';

export class ChatMessageDto {
  @IsIn(CHAT_ROLES, { message: `must be one of ${CHAT_ROLES.join(', ')}` })
  role!: (typeof CHAT_ROLES)[number];

  /** A string, an array of content parts, or null (assistant messages). Parts are checked in the service. */
  @IsOptional()
  @IsJsonType((v) => isString(v) || (Array.isArray(v) && v.every(isContentPart)), 'a string or an array of content parts')
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object', required: ['type'], properties: { type: { type: 'string' }, text: { type: 'string' } } } }] })
  content?: string | Array<{ type: string; text?: unknown }> | null;

  @IsOptional()
  @IsString()
  name?: string;

  /** Assistant turns: the calls it made. Checked in the job builder. */
  @IsOptional()
  @IsJsonType((v) => Array.isArray(v), 'an array of tool calls')
  tool_calls?: unknown[] | null;

  /** Tool turns: the call this answers. */
  @IsOptional()
  @IsString()
  tool_call_id?: string;

  /** Reasoning a previous assistant turn produced (sent back by some clients). */
  @IsOptional()
  @IsString()
  reasoning_content?: string | null;
}

export class CreateChatCompletionDto extends SamplingDto {
  @IsArray()
  @ArrayNotEmpty()
  @Nested(() => ChatMessageDto, { each: true })
  messages!: ChatMessageDto[];

  @IsOptional()
  @IsInt()
  @Min(1)
  max_completion_tokens?: number | null;

  /** Function tools; each is checked in the job builder for a clear message. */
  @IsOptional()
  @IsJsonType((v) => Array.isArray(v) && v.every(isJsonObject), 'an array of tool objects')
  tools?: unknown[] | null;

  @IsOptional()
  @IsJsonType((v) => ['none', 'auto', 'required'].includes(v as string) || isJsonObject(v), "'none', 'auto', 'required' or a named function")
  @ApiProperty({ oneOf: [{ type: 'string', enum: ['none', 'auto', 'required'] }, { type: 'object', description: 'A named function: {"type": "function", "function": {"name": ...}}' }] })
  tool_choice?: string | Record<string, unknown> | null;

  @IsOptional()
  @IsBoolean()
  parallel_tool_calls?: boolean | null;

  @IsOptional()
  @IsJsonType(isJsonObject, 'an object')
  response_format?: Record<string, unknown> | null;

  @IsOptional()
  @IsBoolean()
  logprobs?: boolean | null;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(20)
  top_logprobs?: number | null;

  /** Deprecated function calling: rejected with a pointer to `tools` rather than silently dropped. */
  @IsOptional()
  @ApiProperty({ deprecated: true })
  functions?: unknown;

  @IsOptional()
  @ApiProperty({ deprecated: true, description: 'Deprecated: use tool_choice.' })
  function_call?: unknown;

  /** Accepted for reasoning models (validated, carried on the job); the chat templates do not use it yet. */
  @IsOptional()
  @IsIn(['none', 'minimal', 'low', 'medium', 'high'], { message: "must be one of 'none', 'minimal', 'low', 'medium', 'high'" })
  reasoning_effort?: string | null;
}
