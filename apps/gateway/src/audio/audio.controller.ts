/**
 * POST /v1/audio/transcriptions and /v1/audio/translations (speech to text, OpenAI's multipart
 * forms): the upload becomes one `transcribe` job on the speech model's queue, run through
 * InferenceService (admission, cancel when the client leaves, worker-loss checks), and the worker's
 * neutral transcript is written in the asked response_format, or streamed as transcript events.
 */
import { Controller, Inject, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { TranscribeJobData, TranscriptTask } from '@switchyard/contracts';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import { requireTaskModel } from '../core/task-models';
import { clientGone, setWorkerHeader } from '../chat/response-writer';
import { AudioUploadInterceptor } from './audio-upload.interceptor';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc, transcriptionForm } from '../docs/api-doc.decorator';
import { parseTranscriptionForm, type TranscriptionRequest, type UploadedAudio } from './create-transcription.dto';
import { sendTranscript, writeTranscriptStream } from './transcript-writer';

/** The routes that read multipart bodies, for the JSON body middleware to let through. */
export const AUDIO_UPLOAD_PATHS = ['/v1/audio/transcriptions', '/v1/audio/translations'] as const;

/** The job for a checked request; word timestamps cost the worker extra, so only when asked. */
export function transcribeJob(request: TranscriptionRequest, modelName: string): TranscribeJobData {
  return {
    kind: 'transcribe',
    model: modelName,
    enqueuedAt: Date.now(),
    task: request.task,
    audio: request.file.buffer.toString('base64'),
    ...(request.file.originalname ? { filename: request.file.originalname } : {}),
    ...(request.language !== undefined ? { language: request.language } : {}),
    ...(request.prompt !== undefined ? { prompt: request.prompt } : {}),
    temperature: request.temperature,
    words: request.responseFormat === 'verbose_json' && request.timestampGranularities.includes('word'),
    stream: request.stream,
  };
}

@ApiTags('audio')
@Controller('v1/audio')
@UseInterceptors(AudioUploadInterceptor)
export class AudioController {
  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  @ApiDoc({ id: 'createTranscription', summary: 'Transcribe audio', answer: 'text-or-sse', multipart: transcriptionForm('transcribe'), returns: 'The transcript in response_format, or with `stream=true` transcript.text events.' })
  @Post('transcriptions')
  async transcriptions(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.serve('transcribe', req, res);
  }

  @ApiDoc({ id: 'createTranslation', summary: 'Translate audio into English text', answer: 'text-or-sse', multipart: transcriptionForm('translate'), returns: 'The English transcript in response_format.' })
  @Post('translations')
  async translations(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.serve('translate', req, res);
  }

  private async serve(task: TranscriptTask, req: Request, res: Response): Promise<void> {
    const request = parseTranscriptionForm(task, req.body, (req as Request & { file?: UploadedAudio }).file);
    const model = requireTaskModel(this.catalog, request.model, 'speech-recognition');
    const job = transcribeJob(request, model.name);
    const signal = clientGone(req, res).signal;
    if (request.stream) {
      await writeTranscriptStream(res, this.inference.streamTask(model, job, signal), this.env.STREAM_STALL_MS, this.env.SSE_KEEPALIVE_MS);
      return;
    }
    const { result, workerId } = await this.inference.runTask(model, job, signal);
    if (result.kind !== 'transcribe') throw new Error(`expected a transcribe result, got ${result.kind}`);
    setWorkerHeader(res, workerId);
    sendTranscript(res, result, { task, format: request.responseFormat, timestampGranularities: request.timestampGranularities });
  }
}
