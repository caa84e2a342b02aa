/**
 * The bodies of /v1/images/generations (JSON, OpenAI's CreateImageRequest), /edits and /variations
 * (multipart forms: CreateImageEditRequest, CreateImageVariationRequest), with the extras users of
 * Stable Diffusion expect (seed, steps, guidance_scale, negative_prompt, scheduler, strength). One
 * DTO checks all three; a form's text fields are first given their JSON types (formFields).
 */
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { ImageBackground, ImageOutputFormat } from '@switchyard/contracts';
import { SCHEDULER_NAMES } from '@switchyard/diffusion';
import { OpenAIError } from '../core/openai-error';

export const IMAGE_OUTPUT_FORMATS: readonly ImageOutputFormat[] = ['png', 'jpeg', 'webp'];
export const IMAGE_RESPONSE_FORMATS = ['url', 'b64_json'] as const;
/** gpt-image's qualities, and dall-e-3's (standard is medium, hd high). */
export const IMAGE_QUALITIES = ['low', 'medium', 'high', 'auto', 'standard', 'hd'] as const;
export const IMAGE_BACKGROUNDS: readonly ImageBackground[] = ['transparent', 'opaque', 'auto'];
export const PROMPT_MAX_CHARS = 4000;
export const MAX_IMAGES = 10;

export class CreateImageDto {
  @IsOptional()
  @IsString()
  model?: string;

  /** Required for generations and edits (checked by the controller: variations take none). */
  @IsOptional()
  @IsString()
  @MaxLength(PROMPT_MAX_CHARS, { message: `prompt must be at most ${PROMPT_MAX_CHARS} characters` })
  prompt?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_IMAGES)
  n?: number | null;

  @IsOptional()
  @IsString()
  size?: string | null;

  @IsOptional()
  @IsIn(IMAGE_RESPONSE_FORMATS, { message: `response_format must be one of ${IMAGE_RESPONSE_FORMATS.join(', ')}` })
  response_format?: (typeof IMAGE_RESPONSE_FORMATS)[number] | null;

  @IsOptional()
  @IsIn(IMAGE_OUTPUT_FORMATS, { message: `output_format must be one of ${IMAGE_OUTPUT_FORMATS.join(', ')}` })
  output_format?: ImageOutputFormat | null;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100)
  output_compression?: number | null;

  @IsOptional()
  @IsIn(IMAGE_QUALITIES, { message: `quality must be one of ${IMAGE_QUALITIES.join(', ')}` })
  quality?: (typeof IMAGE_QUALITIES)[number] | null;

  @IsOptional()
  @IsIn(IMAGE_BACKGROUNDS, { message: `background must be one of ${IMAGE_BACKGROUNDS.join(', ')}` })
  background?: ImageBackground | null;

  /** Accepted as OpenAI takes it; a local model has no moderation pass to tune. */
  @IsOptional()
  @IsIn(['low', 'auto'], { message: 'moderation must be low or auto' })
  moderation?: string | null;

  /** dall-e-3's style: accepted, no effect on a diffusion model. */
  @IsOptional()
  @IsIn(['vivid', 'natural'], { message: 'style must be vivid or natural' })
  style?: string | null;

  /** gpt-image edits: accepted, no effect (the edit's strength is `strength`). */
  @IsOptional()
  @IsIn(['low', 'high'], { message: 'input_fidelity must be low or high' })
  input_fidelity?: string | null;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  user?: string;

  @IsOptional()
  @IsBoolean()
  stream?: boolean | null;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3)
  partial_images?: number | null;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(0xffffffff)
  seed?: number | null;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  steps?: number | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(100)
  guidance_scale?: number | null;

  @IsOptional()
  @IsString()
  @MaxLength(PROMPT_MAX_CHARS, { message: `negative_prompt must be at most ${PROMPT_MAX_CHARS} characters` })
  negative_prompt?: string | null;

  @IsOptional()
  @IsIn(SCHEDULER_NAMES, { message: `scheduler must be one of ${SCHEDULER_NAMES.join(', ')}` })
  scheduler?: string | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.01)
  @Max(1)
  strength?: number | null;
}

const INTEGER_FIELDS = ['n', 'output_compression', 'partial_images', 'seed', 'steps'];
const NUMBER_FIELDS = ['guidance_scale', 'strength'];
const BOOLEAN_FIELDS = ['stream'];
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A multipart form's text fields with their JSON types: numbers and booleans arrive as text. Text
 * that is not a number stays text, so the DTO's type check names it; a field sent twice is a 400.
 */
export function formFields(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) {
    if (typeof value !== 'string') throw OpenAIError.badRequest(`Invalid '${name}': expected one text value.`, name, 'invalid_type');
    if (value === '') continue;
    if ((INTEGER_FIELDS.includes(name) || NUMBER_FIELDS.includes(name)) && NUMBER.test(value.trim())) out[name] = Number(value);
    else if (BOOLEAN_FIELDS.includes(name) && (value === 'true' || value === 'false')) out[name] = value === 'true';
    else out[name] = value;
  }
  return out;
}
