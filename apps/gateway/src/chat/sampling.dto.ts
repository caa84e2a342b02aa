/**
 * Sampling fields shared by chat completions and completions, OpenAI's and llama.cpp's extras.
 */
import { IsBoolean, IsInt, IsNumber, IsObject, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import { parseDurationMs } from '@switchyard/runtime';
import { IsJsonType, Nested, isString, isStringArray } from '../core/validation';
import { ApiProperty } from '@nestjs/swagger';

export class StreamOptionsDto {
  @IsOptional()
  @IsBoolean()
  include_usage?: boolean | null;
}

export abstract class SamplingDto {
  @IsString()
  @MinLength(1)
  model!: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  max_tokens?: number | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(2)
  temperature?: number | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  top_p?: number | null;

  @IsOptional()
  @IsJsonType(
    (v) => isString(v) || (isStringArray(v) && v.length <= 4 && v.every((s) => s.length > 0)),
    'a string or an array of up to 4 non-empty strings',
  )
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 4 }] })
  stop?: string | string[] | null;

  @IsOptional()
  @IsInt()
  seed?: number | null;

  @IsOptional()
  @IsBoolean()
  stream?: boolean | null;

  @IsOptional()
  @IsObject()
  @Nested(() => StreamOptionsDto)
  stream_options?: StreamOptionsDto | null;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(128)
  n?: number | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-2)
  @Max(2)
  presence_penalty?: number | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-2)
  @Max(2)
  frequency_penalty?: number | null;

  @IsOptional()
  @IsString()
  user?: string | null;

  /** Ollama-style: how long the model stays loaded after this request (seconds or "5m"; -1 forever). */
  @IsOptional()
  @IsJsonType((v) => parseDurationMs(v) !== undefined, 'seconds or a duration such as "5m"')
  @ApiProperty({ oneOf: [{ type: 'number' }, { type: 'string', examples: ['5m'] }] })
  keep_alive?: string | number | null;

  /** llama.cpp extras. */
  @IsOptional()
  @IsInt()
  @Min(0)
  top_k?: number | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  min_p?: number | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  repeat_penalty?: number | null;

  /** Token id (as a string key) → bias from -100 to 100 added to its logit; -100 bans it. */
  @IsOptional()
  @IsJsonType(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      Object.entries(v).every(([k, b]) => /^\d+$/.test(k) && typeof b === 'number' && b >= -100 && b <= 100),
    'an object mapping token ids to numbers from -100 to 100',
  )
  logit_bias?: Record<string, number> | null;

  /** llama.cpp extra: constrain the output with a GBNF grammar. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  grammar?: string | null;
}
