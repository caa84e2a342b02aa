/**
 * Graceful shutdown for every app: on SIGTERM or SIGINT close the Nest app (its shutdown hooks drain
 * and dispose), with a hard deadline so a stuck hook can never keep a process alive.
 */
import type { Logger } from './logger';

export interface Closable {
  close(): Promise<void>;
}

export function handleShutdown(app: Closable, log: Logger, deadlineMs = 30_000): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      log.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    closing = true;
    log.info('shutting down', { signal });
    const timer = setTimeout(() => {
      log.error('shutdown deadline passed: exiting', { deadlineMs });
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown failed', { error: (err as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
