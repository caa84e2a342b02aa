/**
 * POST /v1/embeddings body for models served by an OpenAI-compatible server: only what the gateway
 * needs is checked here; the rest passes through to the upstream, which validates it.
 */
import { IsString, MinLength } from 'class-validator';
import { IsJsonType } from '../core/validation';

export class UpstreamEmbeddingDto {
  @IsString()
  @MinLength(1)
  model!: string;

  @IsJsonType((v) => typeof v === 'string' || (Array.isArray(v) && v.length > 0), 'a string or a non-empty array')
  input!: string | unknown[];
}
