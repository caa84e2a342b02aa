/**
 * POST /v1/rerank (and /rerank, /v1/reranking) body, in the Jina/Cohere shape that llama.cpp's
 * server and LocalAI accept. Documents are strings or `{text}` objects.
 */
import { IsBoolean, IsInt, IsOptional, IsString, Min, MinLength } from 'class-validator';
import { IsJsonType } from '../core/validation';
import { ApiProperty } from '@nestjs/swagger';

export const MAX_RERANK_DOCUMENTS = 1000;

export const isRerankDocument = (v: unknown): boolean =>
  typeof v === 'string' || (typeof v === 'object' && v !== null && typeof (v as { text?: unknown }).text === 'string');

export class RerankDto {
  @IsOptional()
  @IsString()
  @MinLength(1)
  model?: string;

  @IsString()
  @MinLength(1)
  query!: string;

  @IsJsonType(
    (v) => Array.isArray(v) && v.length > 0 && v.length <= MAX_RERANK_DOCUMENTS && v.every(isRerankDocument),
    `an array (1 to ${MAX_RERANK_DOCUMENTS} items) of strings or {"text": ...} objects`,
  )
  @ApiProperty({ type: 'array', minItems: 1, maxItems: MAX_RERANK_DOCUMENTS, items: { oneOf: [{ type: 'string' }, { type: 'object', required: ['text'], properties: { text: { type: 'string' } } }] } })
  documents!: Array<string | { text: string }>;

  @IsOptional()
  @IsInt()
  @Min(1)
  top_n?: number | null;

  @IsOptional()
  @IsBoolean()
  return_documents?: boolean | null;

  @IsOptional()
  @IsBoolean()
  truncate?: boolean | null;
}
