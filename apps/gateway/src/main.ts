/** Entry point of the gateway (OpenAI-compatible HTTP API). */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { json, type NextFunction, type Request, type Response } from 'express';
import { EnvError, handleShutdown, loadEnv, Logger, ModelsFileError, splitList } from '@switchyard/runtime';
import { GatewayEnv } from './gateway-config';
import { GatewayModule } from './gateway.module';
import { OpenAIError } from './openai-error';
import { sendOpenAIError } from './openai-error.filter';
import { createValidationPipe } from './validation';

const log = new Logger('gateway');

/** Body-parser failures happen before Nest's pipeline, so they get OpenAI's shape here. */
function bodyErrors(err: { type?: string; status?: number; message?: string }, _req: Request, res: Response, next: NextFunction): void {
  if (err.type === 'entity.too.large') {
    sendOpenAIError(res, new OpenAIError(413, 'Request body is too large.', 'invalid_request_error', 'request_too_large'));
  } else if (err.type === 'entity.parse.failed') {
    sendOpenAIError(
      res,
      OpenAIError.badRequest(
        'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.',
        null,
        'invalid_json',
      ),
    );
  } else if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    sendOpenAIError(res, OpenAIError.badRequest(err.message ?? 'Bad request.'));
  } else {
    next(err);
  }
}

async function main(): Promise<void> {
  const env = loadEnv(GatewayEnv);
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule.withEnv(env), {
    bodyParser: false,
    logger: ['error', 'warn'],
    abortOnError: false,
  });
  app.disable('x-powered-by');
  app.use(json({ limit: env.MAX_BODY_BYTES, type: ['application/json', 'application/*+json', 'text/plain'] }));
  app.use(bodyErrors);
  app.useGlobalPipes(createValidationPipe());
  await app.listen(env.PORT, env.HOST);
  handleShutdown(app, log);
  const keys = splitList(env.API_KEYS).length;
  const adminKeys = splitList(env.ADMIN_KEYS).length;
  if (keys + adminKeys === 0) log.warn('no API_KEYS or ADMIN_KEYS configured: the API, admin API included, is open to anyone who can reach it');
  else if (adminKeys === 0) log.info('no ADMIN_KEYS configured: the admin API is closed');
  log.info('gateway listening', { url: await app.getUrl(), apiKeys: keys, adminKeys, modelsFile: env.MODELS_FILE });
}

main().catch((err: unknown) => {
  const known = err instanceof EnvError || err instanceof ModelsFileError;
  process.stderr.write(`gateway: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
