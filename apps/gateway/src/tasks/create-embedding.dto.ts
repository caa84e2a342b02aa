/**
 * POST /v1/embeddings body. `truncate` is an extra (as in llama.cpp's server and TEI): cut inputs
 * past the model's limit instead of rejecting them.
 */
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import { IsJsonType, isTokenArray } from '../core/validation';
import { ApiProperty } from '@nestjs/swagger';

/** OpenAI's limit on inputs in one request. */
export const MAX_EMBEDDING_INPUTS = 2048;

const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

export function isEmbeddingInput(v: unknown): boolean {
  if (nonEmptyString(v)) return true;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_EMBEDDING_INPUTS) return false;
  return v.every(nonEmptyString) || isTokenArray(v) || v.every(isTokenArray);
}

export class CreateEmbeddingDto {
  @IsString()
  @MinLength(1)
  model!: string;

  @IsJsonType(
    isEmbeddingInput,
    `a non-empty string, or an array (1 to ${MAX_EMBEDDING_INPUTS} items) of non-empty strings, of token ids or of token-id arrays`,
  )
  @ApiProperty({ oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: MAX_EMBEDDING_INPUTS }, { type: 'array', items: { type: 'integer' } }, { type: 'array', items: { type: 'array', items: { type: 'integer' } }, minItems: 1, maxItems: MAX_EMBEDDING_INPUTS }] })
  input!: string | string[] | number[] | number[][];

  @IsOptional()
  @IsIn(['float', 'base64'])
  encoding_format?: 'float' | 'base64' | null;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65536)
  dimensions?: number | null;

  @IsOptional()
  @IsString()
  user?: string | null;

  @IsOptional()
  @IsBoolean()
  truncate?: boolean | null;
}
