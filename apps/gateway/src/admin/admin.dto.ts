/**
 * Bodies of the admin API (REST view and text-generation-webui's /v1/internal/model paths).
 */
import { IsInt, IsObject, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import { IsJsonType, Nested } from '../core/validation';
import { ApiProperty } from '@nestjs/swagger';

export const MAX_DRAIN_MS = 3_600_000;

export class LoadArgsDto {
  @IsOptional()
  @IsInt()
  @Min(16)
  @Max(1 << 20)
  ctx_size?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(256)
  parallel?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  threads?: number;

  @IsOptional()
  @IsJsonType((v) => v === 'auto' || v === 'max' || (Number.isInteger(v) && (v as number) >= 0), "a layer count, 'auto' or 'max'")
  @ApiProperty({ oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', enum: ['auto', 'max'] }], description: "Layers on the GPU: a count, 'auto' or 'max'." })
  gpu_layers?: number | 'auto' | 'max';
}

export class AdminLoadDto {
  /** Load on this worker instead of the one with the most free memory. */
  @IsOptional()
  @IsString()
  worker?: string;

  @IsOptional()
  @IsObject()
  @Nested(() => LoadArgsDto)
  args?: LoadArgsDto;
}

export class AdminUnloadDto {
  @IsOptional()
  @IsString()
  worker?: string;

  /** How long running requests may finish before they are aborted (a timer: at most an hour). */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_DRAIN_MS)
  drain_ms?: number;
}

export class InternalLoadDto {
  @IsString()
  @MinLength(1)
  model_name!: string;

  @IsOptional()
  @IsObject()
  @Nested(() => LoadArgsDto)
  args?: LoadArgsDto;

  /** Accepted for compatibility; text-generation-webui's UI settings do not apply here. */
  @IsOptional()
  @IsObject()
  settings?: Record<string, unknown>;
}

export class InternalUnloadDto {
  /** Switchyard extra: unload one model; without it every loaded model is unloaded. */
  @IsOptional()
  @IsString()
  model_name?: string;
}
