/**
 * Liveness and readiness for orchestrators; needs no API key.
 */
import { Controller, Get, HttpCode } from '@nestjs/common';
import { Public } from './api-key.guard';
import { OpenAIError } from './openai-error';
import { RedisConnections } from './redis-connections';
import { WorkerRegistry } from './worker-registry.service';

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
    try {
      await this.redis.command.ping();
    } catch {
      throw new OpenAIError(503, 'Redis is unreachable.', 'server_error', 'redis_unavailable');
    }
    const workers = await this.registry.workers();
    return { status: 'ok', workers: workers.length };
  }
}
