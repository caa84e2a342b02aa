/**
 * POST /v1/audio/speech body, as OpenAI's CreateSpeechRequest has it. `voice` is a name or a
 * `{ "id": ... }` object; the input's length is checked against the model's limit by the
 * controller (4096 characters unless the models file says otherwise).
 */
import { IsIn, IsNumber, IsOptional, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';
import type { SpeechFormat } from '@switchyard/contracts';
import { IsJsonType } from '../core/validation';
import { ApiProperty } from '@nestjs/swagger';

export const SPEECH_RESPONSE_FORMATS: readonly SpeechFormat[] = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'];
export const SPEECH_STREAM_FORMATS = ['audio', 'sse'] as const;
export type SpeechStreamFormat = (typeof SPEECH_STREAM_FORMATS)[number];

const VOICE_NAME_MAX = 128;

export function isVoice(v: unknown): boolean {
  const id = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as { id?: unknown }).id : v;
  return typeof id === 'string' && id.length > 0 && id.length <= VOICE_NAME_MAX;
}

/** The voice's name, from either form. */
export function voiceName(v: string | { id: string }): string {
  return typeof v === 'string' ? v : v.id;
}

export class CreateSpeechDto {
  @IsString()
  @MinLength(1)
  model!: string;

  @IsString()
  input!: string;

  @IsJsonType(isVoice, `a voice name, or an object with a voice id ({"id": "..."}), of 1 to ${VOICE_NAME_MAX} characters`)
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'object', required: ['id'], properties: { id: { type: 'string' } } }], description: 'A voice name (GET /v1/audio/voices lists them) or `{"id": name}`.' })
  voice!: string | { id: string };

  @IsOptional()
  @IsIn(SPEECH_RESPONSE_FORMATS, { message: `response_format must be one of ${SPEECH_RESPONSE_FORMATS.join(', ')}` })
  response_format?: SpeechFormat | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.25)
  @Max(4)
  speed?: number | null;

  @IsOptional()
  @IsString()
  @MaxLength(4096)
  instructions?: string | null;

  @IsOptional()
  @IsIn(SPEECH_STREAM_FORMATS, { message: `stream_format must be one of ${SPEECH_STREAM_FORMATS.join(', ')}` })
  stream_format?: SpeechStreamFormat | null;
}
