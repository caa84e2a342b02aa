/**
 * POST /v1/audio/speech (text to speech, OpenAI's JSON body) and GET /v1/audio/voices (the voice
 * names each voice model answers to, as speaches and Kokoro-FastAPI list them). A request becomes
 * one `speech` job on the voice model's queue, run through InferenceService (admission, cancel when
 * the client leaves, worker-loss checks); the worker sends the encoded audio as it is made and the
 * gateway passes it on (speech-writer.ts).
 */
import { Body, Controller, Get, Inject, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { speechContentType } from '@switchyard/audio';
import { isKnownVoice, listVoices, type OnnxModelDescriptor, type SpeechJobData, type VoiceOptions } from '@switchyard/contracts';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import { OpenAIError } from '../core/openai-error';
import { requireTaskModel, servesTask } from '../core/task-models';
import { clientGone } from '../chat/response-writer';
import { CreateSpeechDto, voiceName } from './create-speech.dto';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { writeSpeechAudio, writeSpeechSse } from './speech-writer';

/** The model's voice options (every text-to-speech descriptor has them). */
function voiceOptions(model: OnnxModelDescriptor): VoiceOptions {
  if (!model.voice) throw new Error(`the text-to-speech model ${model.name} has no voice options`);
  return model.voice;
}

/** The job for a checked body, or the 400 for what the DTO cannot check without the model. */
export function speechJob(dto: CreateSpeechDto, model: OnnxModelDescriptor): SpeechJobData {
  const options = voiceOptions(model);
  const chars = [...dto.input].length;
  if (dto.input.trim().length === 0) throw OpenAIError.badRequest('The input is empty; give the text to speak.', 'input', 'empty_input');
  if (chars > options.maxInputChars) {
    throw OpenAIError.badRequest(`The input is ${chars} characters; the limit is ${options.maxInputChars}.`, 'input', 'string_above_max_length');
  }
  const voice = voiceName(dto.voice);
  if (!isKnownVoice(voice, options)) {
    throw OpenAIError.badRequest(`The voice '${voice}' is not a voice of '${model.name}'; GET /v1/audio/voices lists them.`, 'voice', 'invalid_voice');
  }
  return {
    kind: 'speech',
    model: model.name,
    enqueuedAt: Date.now(),
    input: dto.input,
    voice,
    speed: dto.speed ?? 1,
    format: dto.response_format ?? 'mp3',
    ...(dto.instructions ? { instructions: dto.instructions } : {}),
  };
}

@ApiTags('audio')
@Controller('v1/audio')
export class SpeechController {
  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  @ApiDoc({ id: 'createSpeech', summary: 'Generate speech from text', answer: 'audio-or-sse', returns: 'The audio in response_format, sent as it is made; with `stream_format: sse` speech.audio events.' })
  @Post('speech')
  async speech(@Body() dto: CreateSpeechDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const model = requireTaskModel(this.catalog, dto.model, 'text-to-speech');
    const job = speechJob(dto, model);
    const events = this.inference.streamTask(model, job, clientGone(req, res).signal);
    if (dto.stream_format === 'sse') await writeSpeechSse(res, events, this.env.STREAM_STALL_MS, this.env.SSE_KEEPALIVE_MS);
    else await writeSpeechAudio(res, events, speechContentType(job.format), this.env.STREAM_STALL_MS);
  }

  /** `?model=` narrows the list to one voice model (404 for an unknown one, 400 for one that is not a voice). */
  @ApiDoc({ summary: 'List the voices of the voice models', returns: 'A list of voice objects.' })
  @Get('voices')
  voices(@Query('model') id?: string): object {
    const models = id !== undefined ? [requireTaskModel(this.catalog, id, 'text-to-speech')] : this.catalog.models.filter((m): m is OnnxModelDescriptor => servesTask(m, 'text-to-speech'));
    const data = models.flatMap((m) => {
      const options = voiceOptions(m as OnnxModelDescriptor);
      return listVoices(options, options.speakers).map((v) => ({ object: 'voice', id: v.id, name: v.id, model: m.name, speaker_id: v.speaker, openai_voice: v.openai }));
    });
    return { object: 'list', data, voices: [...new Set(data.map((v) => v.id))] };
  }
}
