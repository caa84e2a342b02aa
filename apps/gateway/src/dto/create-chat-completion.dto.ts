/**
 * POST /v1/chat/completions body.
 */
import { Type } from 'class-transformer';
import { ArrayNotEmpty, IsArray, IsIn, IsInt, IsOptional, IsString, Min, ValidateNested } from 'class-validator';
import { IsJsonType, isString } from '../validation';
import { SamplingDto } from './sampling.dto';

export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;

const isContentPart = (p: unknown): boolean =>
  typeof p === 'object' && p !== null && !Array.isArray(p) && typeof (p as { type?: unknown }).type === 'string';

export class ChatMessageDto {
  @IsIn(CHAT_ROLES, { message: `must be one of ${CHAT_ROLES.join(', ')}` })
  role!: (typeof CHAT_ROLES)[number];

  /** A string, an array of content parts, or null (assistant messages). Parts are checked in the service. */
  @IsOptional()
  @IsJsonType((v) => isString(v) || (Array.isArray(v) && v.every(isContentPart)), 'a string or an array of content parts')
  content?: string | Array<{ type: string; text?: unknown }> | null;

  @IsOptional()
  @IsString()
  name?: string;
}

export class CreateChatCompletionDto extends SamplingDto {
  @IsArray()
  @ArrayNotEmpty()
  @ValidateNested({ each: true })
  @Type(() => ChatMessageDto)
  messages!: ChatMessageDto[];

  @IsOptional()
  @IsInt()
  @Min(1)
  max_completion_tokens?: number | null;
}
