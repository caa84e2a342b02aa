/**
 * POST /v1/responses body. The fields' JSON types are checked here; input items, tools, tool_choice
 * and text.format are checked item by item in responses-input.ts, for messages whose `param` names
 * the exact place (`input[2].content[0].text`).
 */
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ApiProperty } from '@nestjs/swagger';
import { IsJsonType, isJsonObject, isString } from '../core/validation';

export class CreateResponseDto {
  @IsString()
  model!: string;

  /** A string (one user message) or a list of input items. */
  @IsOptional()
  @IsJsonType((v) => isString(v) || Array.isArray(v), 'a string or an array of input items')
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }] })
  input?: string | unknown[];

  /** A system (developer) message put first; not carried to later turns by previous_response_id. */
  @IsOptional()
  @IsString()
  instructions?: string | null;

  @IsOptional()
  @IsString()
  previous_response_id?: string | null;

  @IsOptional()
  @IsInt()
  @Min(1)
  max_output_tokens?: number | null;

  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(2)
  temperature?: number | null;

  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  top_p?: number | null;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(20)
  top_logprobs?: number | null;

  @IsOptional()
  @IsJsonType((v) => Array.isArray(v) && v.every(isJsonObject), 'an array of tool objects')
  tools?: unknown[] | null;

  @IsOptional()
  @IsJsonType((v) => ['none', 'auto', 'required'].includes(v as string) || isJsonObject(v), "'none', 'auto', 'required' or a named function")
  @ApiProperty({ oneOf: [{ type: 'string', enum: ['none', 'auto', 'required'] }, { type: 'object', description: '{"type": "function", "name": ...}' }] })
  tool_choice?: string | Record<string, unknown> | null;

  @IsOptional()
  @IsBoolean()
  parallel_tool_calls?: boolean | null;

  /** `{format: {type: 'text' | 'json_object' | 'json_schema', ...}, verbosity}`. */
  @IsOptional()
  @IsJsonType(isJsonObject, 'an object')
  text?: Record<string, unknown> | null;

  /** `{effort, summary}`. */
  @IsOptional()
  @IsJsonType(isJsonObject, 'an object')
  reasoning?: Record<string, unknown> | null;

  @IsOptional()
  @IsBoolean()
  store?: boolean | null;

  @IsOptional()
  @IsJsonType(isJsonObject, 'an object of up to 16 string values')
  metadata?: Record<string, unknown> | null;

  @IsOptional()
  @IsIn(['auto', 'disabled'], { message: "must be 'auto' or 'disabled'" })
  truncation?: 'auto' | 'disabled' | null;

  @IsOptional()
  @IsBoolean()
  stream?: boolean | null;

  @IsOptional()
  @IsJsonType(isJsonObject, 'an object')
  stream_options?: Record<string, unknown> | null;

  @IsOptional()
  @IsBoolean()
  background?: boolean | null;

  @IsOptional()
  @IsString()
  user?: string | null;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  safety_identifier?: string | null;

  /** Accepted for OpenAI's prompt caching; llama.cpp workers reuse the KV cache of a shared prefix anyway. */
  @IsOptional()
  @IsString()
  prompt_cache_key?: string | null;

  /** Accepted and answered as `default`: there is one tier. */
  @IsOptional()
  @IsString()
  service_tier?: string | null;

  /** Extra output to include; `message.output_text.logprobs` is honoured, the rest refused by name. */
  @IsOptional()
  @IsJsonType((v) => Array.isArray(v) && v.every(isString), 'an array of strings')
  include?: string[] | null;

  /** Applies to built-in tools only, of which Switchyard has none: accepted, nothing to bound. */
  @IsOptional()
  @IsInt()
  @Min(1)
  max_tool_calls?: number | null;

  /** OpenAI's Conversations API and stored prompts are not served: refused by name in the builder. */
  @IsOptional()
  @ApiProperty({ description: 'Not supported: use previous_response_id.' })
  conversation?: unknown;

  @IsOptional()
  @ApiProperty({ description: 'Not supported: stored prompt templates.' })
  prompt?: unknown;

  /** Switchyard extension, as on chat: how long the model stays loaded after this request. */
  @IsOptional()
  @IsJsonType((v) => typeof v === 'string' || typeof v === 'number', 'a duration')
  keep_alive?: string | number | null;
}
