/**
 * POST /v1/completions body (the legacy text completions endpoint).
 */
import { IsBoolean, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { IsJsonType, isString, isStringArray, isTokenArray } from '../core/validation';
import { SamplingDto } from './sampling.dto';
import { ApiProperty } from '@nestjs/swagger';

export class CreateCompletionDto extends SamplingDto {
  @IsJsonType(
    (v) =>
      isString(v) ||
      (isStringArray(v) && v.length > 0) ||
      isTokenArray(v) ||
      (Array.isArray(v) && v.length > 0 && v.every(isTokenArray)),
    'a string, an array of strings, an array of token ids or an array of token-id arrays',
  )
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }, { type: 'array', items: { type: 'integer' } }, { type: 'array', items: { type: 'array', items: { type: 'integer' } }, minItems: 1 }] })
  prompt!: string | string[] | number[] | number[][];

  @IsOptional()
  @IsBoolean()
  echo?: boolean | null;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(5)
  logprobs?: number | null;

  @IsOptional()
  @IsInt()
  @Min(1)
  best_of?: number | null;

  @IsOptional()
  @IsString()
  suffix?: string | null;
}
