/**
 * Reads an audio endpoint's multipart/form-data body: the one file part (`file`) into memory, under
 * AUDIO_MAX_FILE_BYTES, and the text fields into `req.body`. It runs Nest's FileInterceptor (multer)
 * and gives its failures OpenAI's shape: an oversize file is a 413 on `file`, and anything wrong with
 * the body itself (not multipart, no boundary, cut short, an extra file part) a 400, never a 500.
 */
import { HttpException, Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor, type Type } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { OpenAIError } from '../core/openai-error';

/** Bounds on the text fields (a prompt is the long one); a form has about ten fields. */
export const FIELD_LIMITS = { fieldSize: 1024 * 1024, fields: 64, fieldNameSize: 200, parts: 128 };

@Injectable()
export class AudioUploadInterceptor implements NestInterceptor {
  private readonly multer: NestInterceptor;
  private readonly maxFileBytes: number;

  constructor(@Inject(GATEWAY_ENV) env: GatewayEnv) {
    this.maxFileBytes = env.AUDIO_MAX_FILE_BYTES;
    // FileInterceptor's limits are fixed when the class is made; here they come from the environment.
    const Multer: Type<NestInterceptor> = FileInterceptor('file', { limits: { ...FIELD_LIMITS, fileSize: this.maxFileBytes, files: 1 } });
    this.multer = new Multer();
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = context.switchToHttp().getRequest<Request>();
    // multer passes anything else through untouched, which would read as "no file".
    if (!req.is('multipart/form-data')) throw notMultipart(req.headers['content-type']);
    try {
      // Only multer's parse is awaited here; the route's own errors travel in the returned Observable.
      return await this.multer.intercept(context, next);
    } catch (err) {
      throw uploadError(err, this.maxFileBytes);
    }
  }
}

export function notMultipart(contentType: string | undefined): OpenAIError {
  const got = contentType ? `'${contentType.slice(0, 100)}'` : 'none';
  return OpenAIError.badRequest(`Send the request as multipart/form-data (Content-Type was ${got}), with the audio in a 'file' part.`, null, 'invalid_content_type');
}

/** OpenAI's error for what multer (or busboy under it) failed with while reading the body. */
export function uploadError(err: unknown, maxFileBytes: number): OpenAIError {
  if (err instanceof OpenAIError) return err;
  const status = err instanceof HttpException ? err.getStatus() : undefined;
  if (status === 413) {
    return new OpenAIError(413, `The audio file is larger than the ${formatBytes(maxFileBytes)} allowed.`, 'invalid_request_error', 'file_too_large', 'file');
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/unexpected (file )?field|too many files/i.test(message)) {
    return OpenAIError.badRequest("Send one audio file, in the part named 'file'.", 'file', 'unexpected_file');
  }
  // The rest is the body's fault: a missing boundary, a malformed part, a body cut short, too many
  // fields. multer hands some of these on as plain Errors (no HttpException), which must not be a 500.
  return OpenAIError.badRequest(`Could not read the multipart/form-data body: ${message.slice(0, 200)}`, null, 'invalid_multipart');
}

function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MB`;
  if (n % 1024 === 0) return `${n / 1024} KB`;
  return `${n} bytes`;
}
