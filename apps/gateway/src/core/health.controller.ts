/**
 * Liveness and readiness for orchestrators; needs no API key. Answers at once while Redis is down
 * (never waits in ioredis's offline queue).
 *
 * - `/health/live`: the process answers (restart it when this fails); never touches Redis.
 * - `/health/ready`: Redis answers and every model the models file preloads is ready on some live
 *   worker; otherwise 503 `not_ready` with the reasons (take it out of the load balancer).
 * - `/health`: Redis answers; the live workers' count (what it always said).
 */
import { Controller, Get, HttpCode } from '@nestjs/common';
import type { WorkerHeartbeat } from '@switchyard/contracts';
import { Public } from './api-key.guard';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { ModelCatalogService } from './model-catalog.service';
import { OpenAIError } from './openai-error';
import { RedisConnections, redisUnavailable } from './redis-connections';
import { WorkerRegistry } from './worker-registry.service';

/** A Redis that is connected but does not answer (stopped, overloaded) counts as down past this. */
const PING_TIMEOUT_MS = 1000;

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly redis: RedisConnections,
    private readonly registry: WorkerRegistry,
    private readonly catalog: ModelCatalogService,
  ) {}

  @ApiDoc({ summary: 'Redis answers; the count of live workers' })
  @Get('health')
  @HttpCode(200)
  async health(): Promise<object> {
    const workers = await this.fleet();
    if (workers === undefined) throw redisUnavailable();
    return { status: 'ok', workers: workers.length };
  }

  @ApiDoc({ summary: 'Liveness: the process answers' })
  @Get('health/live')
  @HttpCode(200)
  live(): object {
    return { status: 'ok' };
  }

  @ApiDoc({ summary: 'Readiness: Redis answers and every preloaded model is ready (503 otherwise)' })
  @Get('health/ready')
  @HttpCode(200)
  async ready(): Promise<object> {
    const workers = await this.fleet();
    if (workers === undefined) throw notReady(['Redis is unreachable']);
    const ready = new Set(workers.flatMap((w) => w.models.filter((m) => m.state === 'ready').map((m) => m.name)));
    const missing = this.catalog.models.filter((m) => m.preload && this.catalog.fileModel(m.name) && !ready.has(m.name)).map((m) => `no worker serves the preloaded model '${m.name}'`);
    if (missing.length > 0) throw notReady(missing);
    return { status: 'ok', workers: workers.length };
  }

  /** The live workers, read fresh, or undefined when Redis does not answer in time. */
  private async fleet(): Promise<WorkerHeartbeat[] | undefined> {
    if (!this.redis.ready) return undefined;
    return withTimeout(
      (async () => {
        await this.redis.command.ping();
        return this.registry.workers();
      })(),
      PING_TIMEOUT_MS,
    );
  }
}

function notReady(reasons: string[]): OpenAIError {
  return new OpenAIError(503, `Not ready: ${reasons.join('; ')}.`, 'server_error', 'not_ready', null, { 'Retry-After': '2' });
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
