/**
 * The gateway's logging: every line JSON through the process's pino (libs/runtime logger.ts), the
 * current request's id on every line logged while serving it, and nestjs-pino's PinoLogger
 * (`@InjectPinoLogger()`) bound to the request. The access log middleware itself runs in main.ts,
 * before the body parsers, so requests they refuse get their line too; nestjs-pino reuses its
 * `req.log` (`useExisting`).
 */
import { Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { rootLogger, setLogContext } from '@switchyard/runtime';
import { currentRequest } from '../core/request-context';

/** Every line logged inside a request (the gateway's Logger, Nest's, PinoLogger) carries its id. */
export function installRequestLogContext(): void {
  setLogContext(() => {
    const ctx = currentRequest();
    return ctx ? { requestId: ctx.id } : undefined;
  });
}

@Module({
  imports: [
    LoggerModule.forRoot({
      pinoHttp: { logger: rootLogger() },
      useExisting: true,
      // Nest 11's own wildcard syntax (nestjs-pino's default `*` draws a deprecation warning).
      forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
    }),
  ],
})
export class LoggingModule {}
