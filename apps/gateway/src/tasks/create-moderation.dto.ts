/**
 * POST /v1/moderations body: a string, an array of strings, or OpenAI's multi-modal array of
 * `{type: "text", text}` parts (image parts are refused: the served models read text only).
 */
import { IsBoolean, IsOptional, IsString, MinLength } from 'class-validator';
import { IsJsonType } from '../core/validation';
import { ApiProperty } from '@nestjs/swagger';

interface TextPart {
  type: 'text';
  text: string;
}

export const isTextPart = (v: unknown): v is TextPart =>
  typeof v === 'object' && v !== null && (v as TextPart).type === 'text' && typeof (v as TextPart).text === 'string';

const isPart = (v: unknown): boolean => typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';

export class CreateModerationDto {
  @IsOptional()
  @IsString()
  @MinLength(1)
  model?: string;

  @IsJsonType(
    (v) => typeof v === 'string' || (Array.isArray(v) && v.length > 0 && (v.every((x) => typeof x === 'string') || v.every(isPart))),
    'a string, an array of strings, or an array of input parts',
  )
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }, { type: 'array', minItems: 1, items: { type: 'object', required: ['type', 'text'], properties: { type: { type: 'string', enum: ['text'] }, text: { type: 'string' } } } }] })
  input!: string | string[] | Array<{ type: string; text?: string }>;

  @IsOptional()
  @IsBoolean()
  truncate?: boolean | null;
}
