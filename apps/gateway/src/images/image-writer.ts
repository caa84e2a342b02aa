/**
 * Writes an image job's answer in OpenAI's shapes. One JSON ImagesResponse once every image is
 * made (`b64_json`, or `url` after storing each image in the ImageStore); or, for `stream: true`,
 * SSE events as the worker sends images: `image_generation.partial_image` (edits:
 * `image_edit.partial_image`) for previews and `.completed` for each finished image, with `event:`
 * lines as OpenAI sends them and a `: step k/n` comment after each denoising step (progress, and a
 * keep-alive through proxies during long steps). Headers go out with the first event, so an error
 * before it is a plain JSON error; one after it is a last `error` event.
 */
import type { Response } from 'express';
import { imageOutputTokens, type ImageDelta, type ImageMode, type ImageResult } from '@switchyard/contracts';
import type { TaskStreamEvent } from '../core/inference.service';
import { OpenAIError } from '../core/openai-error';
import { sendOpenAIError, toOpenAIError } from '../core/openai-error.filter';
import { setWorkerHeader, SSE_HEADERS, writeOrDrop } from '../chat/response-writer';
import { SseKeepAlive } from '../core/sse-keepalive';
import type { ImageRequest } from './image-request';

type ImageEvents = AsyncGenerator<TaskStreamEvent<ImageResult>>;

/** The sizes OpenAI's schemas name; any other is reported as `auto` in events and left out of the JSON body. */
const OPENAI_SIZES: readonly string[] = ['1024x1024', '1024x1536', '1536x1024'];

export interface ImagesUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  input_tokens_details: { text_tokens: number; image_tokens: number };
}

/** gpt-image's usage: the prompt's tokens in, the images' tokens (by size and quality) out. Uploaded images are not tokens to a diffusion model. */
export function imagesUsage(request: ImageRequest, inputTokens: number, images: number): ImagesUsage {
  const output = images * imageOutputTokens(request.job.width, request.job.height, request.quality);
  return { input_tokens: inputTokens, output_tokens: output, total_tokens: inputTokens + output, input_tokens_details: { text_tokens: inputTokens, image_tokens: 0 } };
}

/** The fields every event and the JSON body repeat (background: the pipeline paints every pixel). */
function settings(request: ImageRequest): { size: string; quality: string; background: string; output_format: string } {
  const size = `${request.job.width}x${request.job.height}`;
  return {
    size: OPENAI_SIZES.includes(size) ? size : 'auto',
    quality: request.quality,
    background: request.job.background === 'transparent' ? 'transparent' : 'opaque',
    output_format: request.job.format,
  };
}

function noResult(): OpenAIError {
  return new OpenAIError(502, 'The worker ended the image job without a result.', 'server_error', 'no_result');
}

/** Collects the finished images (previews are for streams) and the result. */
export async function collectImages(events: ImageEvents, n: number): Promise<{ images: ImageDelta[]; result: ImageResult; workerId: string }> {
  const images: ImageDelta[] = [];
  for await (const event of events) {
    if (event.type === 'delta') {
      if (event.image && event.image.partial === undefined) images[event.image.index] = event.image;
    } else if (event.type === 'result') {
      const made = images.filter(Boolean);
      if (made.length !== n) throw new OpenAIError(502, `The worker made ${made.length} of ${n} images.`, 'server_error', 'missing_images');
      return { images: made, result: event.result, workerId: event.workerId };
    }
  }
  throw noResult();
}

/** OpenAI's ImagesResponse; `urls` replaces b64_json when the request asked for URLs. */
export function imagesResponse(request: ImageRequest, images: ImageDelta[], result: ImageResult, urls?: string[]): object {
  const s = settings(request);
  return {
    created: Math.floor(Date.now() / 1000),
    data: images.map((image, i) => (urls ? { url: urls[i] } : { b64_json: image.b64 })),
    background: s.background,
    output_format: s.output_format,
    ...(s.size !== 'auto' ? { size: s.size } : {}),
    quality: s.quality,
    usage: imagesUsage(request, result.inputTokens, images.length),
  };
}

function write(res: Response, piece: string, stallMs: number): Promise<boolean> {
  return writeOrDrop(res, piece, stallMs, 'image stream');
}

/** The SSE stream of a `stream: true` request; see the header. */
export async function writeImageStream(res: Response, events: ImageEvents, request: ImageRequest, mode: ImageMode, stallMs: number, keepAliveMs = 0): Promise<void> {
  SseKeepAlive.start(res, { intervalMs: keepAliveMs, headers: SSE_HEADERS });
  const prefix = mode === 'generate' ? 'image_generation' : 'image_edit';
  const s = settings(request);
  const open = (): void => {
    if (!res.headersSent) res.writeHead(200, SSE_HEADERS);
  };
  const send = (type: string, body: object): Promise<boolean> => write(res, `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`, stallMs);
  try {
    for await (const event of events) {
      if (event.type === 'start') {
        setWorkerHeader(res, event.workerId);
        continue;
      }
      if (event.type === 'result') {
        open();
        res.end();
        return;
      }
      open();
      const created_at = Math.floor(Date.now() / 1000);
      if (event.progress && !(await write(res, `: step ${event.progress.step}/${event.progress.steps}\n\n`, stallMs))) return;
      const image = event.image;
      if (!image) continue;
      const ok =
        image.partial !== undefined
          ? await send(`${prefix}.partial_image`, { b64_json: image.b64, created_at, ...s, partial_image_index: image.partial })
          : await send(`${prefix}.completed`, { b64_json: image.b64, created_at, ...s, usage: imagesUsage(request, image.inputTokens ?? 0, 1) });
      // Leaving the loop closes the events, which cancels the job.
      if (!ok) return;
    }
    throw noResult();
  } catch (err) {
    if (res.writableEnded || res.destroyed) return;
    sendOpenAIError(res, toOpenAIError(err));
  }
}
