/** Entry point of the gateway (OpenAI-compatible HTTP API). */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { EnvError, exitWithFatal, handleShutdown, loadEnv, loadModelsFile, Logger, ModelsFileError, NestLogger, splitList } from '@switchyard/runtime';
import { GatewayEnv } from './core/gateway-config';
import { GatewayModule } from './gateway.module';
import { AUDIO_UPLOAD_PATHS } from './audio/audio.controller';
import { IMAGE_UPLOAD_PATHS } from './images/images.controller';
import { jsonBody } from './core/json-body.middleware';
import { createValidationPipe } from './core/validation';
import { reenterRequestContext, requestContext } from './core/request-context';
import { accessLog } from './logging/access-log.middleware';
import { installRequestLogContext } from './logging/logging.module';
import { QueueDashboardService } from './dashboard/queue-dashboard.service';
import { mountPlayground } from './playground/playground';
import { setupOpenApi } from './docs/openapi';

const log = new Logger('gateway');

async function main(): Promise<void> {
  const env = loadEnv(GatewayEnv);
  // A bad models file is one clear line here, not an error from inside Nest's injector.
  loadModelsFile(env.MODELS_FILE);
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule.withEnv(env), {
    bodyParser: false,
    logger: new NestLogger(),
    abortOnError: false,
  });
  app.disable('x-powered-by');
  installRequestLogContext();
  app.use(requestContext);
  app.use(accessLog());
  for (const step of jsonBody(env.MAX_BODY_BYTES, [...AUDIO_UPLOAD_PATHS, ...IMAGE_UPLOAD_PATHS])) app.use(step);
  app.use(reenterRequestContext);
  app.get(QueueDashboardService).mount(app);
  mountPlayground(app);
  await setupOpenApi(app);
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
  exitWithFatal('gateway', err, err instanceof EnvError || err instanceof ModelsFileError);
});
