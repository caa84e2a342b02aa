/**
 * Reads /v1/images/edits and /variations multipart bodies: `image` (several allowed, also as
 * `image[]`, as the OpenAI SDK sends a list) and `mask` into memory, each under
 * IMAGE_MAX_FILE_BYTES, the text fields into `req.body`. Multer's failures get OpenAI's shape: a file
 * over the limit is a 400 on its field (as OpenAI answers it), a bad body a 400, never a 500.
 */
import { HttpException, Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor, type Type } from '@nestjs/common';
import { FileFieldsInterceptor } from '@nestjs/platform-express';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { FIELD_LIMITS } from '../audio/audio-upload.interceptor';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { OpenAIError } from '../core/openai-error';
import type { UploadedImage } from './image-request';

/** gpt-image takes up to 16 images in one edit. */
const MAX_IMAGES = 16;

export interface ImageUploads {
  images: UploadedImage[];
  mask?: UploadedImage;
}

/** The files multer read, under their field names. */
export function imageUploads(req: Request): ImageUploads {
  const files = (req as Request & { files?: Record<string, UploadedImage[] | undefined> }).files ?? {};
  const images = [...(files.image ?? []), ...(files['image[]'] ?? [])];
  const mask = files.mask?.[0];
  return mask ? { images, mask } : { images };
}

@Injectable()
export class ImageUploadInterceptor implements NestInterceptor {
  private readonly multer: NestInterceptor;
  private readonly maxFileBytes: number;

  constructor(@Inject(GATEWAY_ENV) env: GatewayEnv) {
    this.maxFileBytes = env.IMAGE_MAX_FILE_BYTES;
    const fields = [
      { name: 'image', maxCount: MAX_IMAGES },
      { name: 'image[]', maxCount: MAX_IMAGES },
      { name: 'mask', maxCount: 1 },
    ];
    const Multer: Type<NestInterceptor> = FileFieldsInterceptor(fields, { limits: { ...FIELD_LIMITS, fileSize: this.maxFileBytes, files: MAX_IMAGES + 1 } });
    this.multer = new Multer();
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = context.switchToHttp().getRequest<Request>();
    if (!req.is('multipart/form-data')) {
      const type = req.headers['content-type'];
      throw OpenAIError.badRequest(`Send the request as multipart/form-data (Content-Type was ${type ? `'${type.slice(0, 100)}'` : 'none'}), with the image in an 'image' part.`, null, 'invalid_content_type');
    }
    try {
      return await this.multer.intercept(context, next);
    } catch (err) {
      throw this.uploadError(err);
    }
  }

  private uploadError(err: unknown): OpenAIError {
    if (err instanceof OpenAIError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const field = (err as { field?: unknown }).field;
    const param = typeof field === 'string' && field.startsWith('mask') ? 'mask' : 'image';
    if (err instanceof HttpException && err.getStatus() === 413) {
      return OpenAIError.badRequest(`The '${param}' file is larger than the ${Math.round(this.maxFileBytes / (1024 * 1024))} MB allowed.`, param, 'image_too_large');
    }
    if (/unexpected (file )?field|too many files/i.test(message)) {
      return OpenAIError.badRequest(`Send images in 'image' parts (at most ${MAX_IMAGES}) and at most one 'mask'.`, param, 'unexpected_file');
    }
    return OpenAIError.badRequest(`Could not read the multipart/form-data body: ${message.slice(0, 200)}`, null, 'invalid_multipart');
  }
}
