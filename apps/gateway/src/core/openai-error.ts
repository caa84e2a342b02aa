/**
 * OpenAI's error object and the exception that carries it through Nest to the client.
 */
import { HttpException } from '@nestjs/common';

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable';

export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType | string; param: string | null; code: string | null };
}

export class OpenAIError extends HttpException {
  constructor(
    status: number,
    message: string,
    type: OpenAIErrorType | string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super({ error: { message, type, param, code } } satisfies OpenAIErrorBody, status);
    this.message = message;
  }

  get body(): OpenAIErrorBody {
    return this.getResponse() as OpenAIErrorBody;
  }

  static badRequest(message: string, param: string | null = null, code: string | null = null): OpenAIError {
    return new OpenAIError(400, message, 'invalid_request_error', code, param);
  }

  static modelNotFound(model: string): OpenAIError {
    return new OpenAIError(
      404,
      `The model '${model}' does not exist or you do not have access to it.`,
      'invalid_request_error',
      'model_not_found',
      'model',
    );
  }

  static internal(): OpenAIError {
    return new OpenAIError(500, 'The server had an error while processing your request.', 'server_error', 'internal_error');
  }
}
