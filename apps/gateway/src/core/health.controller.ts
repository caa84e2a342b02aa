/**
 * Liveness and readiness for orchestrators; needs no API key. Answers at once while Redis is down
 * (never waits in ioredis's offline queue).
 */
import { Controller, Get, HttpCode } from '@nestjs/common';
import { Public } from './api-key.guard';
import { RedisConnections, redisUnavailable } from './redis-connections';
import { WorkerRegistry } from './worker-registry.service';

/** A Redis that is connected but does not answer (stopped, overloaded) counts as down past this. */
const PING_TIMEOUT_MS = 1000;

@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly redis: RedisConnections,
    private readonly registry: WorkerRegistry,
  ) {}

  @Get('health')
  @HttpCode(200)
  async health(): Promise<object> {
    this.redis.assertReady();
    const workers = await withTimeout(
      (async () => {
        await this.redis.command.ping();
        return this.registry.workers();
      })(),
      PING_TIMEOUT_MS,
    );
    if (workers === undefined) throw redisUnavailable();
    return { status: 'ok', workers: workers.length };
  }
}

/** The value, or undefined when it failed or took longer than `ms`. */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
