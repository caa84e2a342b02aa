/**
 * The gateway's Redis connections: one for commands and BullMQ queues, one in subscriber mode for
 * job events. Closed on shutdown. They also say whether Redis is reachable now (requests then fail
 * fast instead of waiting in ioredis's offline queue) and when they last (re)connected.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { createRedis } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';
import { OpenAIError } from './openai-error';

@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  readonly command: Redis;
  readonly subscriber: Redis;
  private readyAt = Date.now();

  constructor(@Inject(GATEWAY_ENV) env: GatewayEnv) {
    this.command = createRedis(env.REDIS_URL, 'switchyard-gateway');
    this.subscriber = createRedis(env.REDIS_URL, 'switchyard-gateway-sub');
    for (const c of [this.command, this.subscriber]) c.on('ready', () => (this.readyAt = Date.now()));
  }

  /** Both connections are up (ioredis would otherwise queue commands until Redis is back). */
  get ready(): boolean {
    return this.command.status === 'ready' && this.subscriber.status === 'ready';
  }

  /**
   * True within `ms` of a (re)connect: a restarted Redis is empty until every worker has written
   * its heartbeat again, so a missing heartbeat then proves nothing.
   */
  reconnectedWithin(ms: number): boolean {
    return Date.now() - this.readyAt < ms;
  }

  /** Throws the 503 for a request arriving while Redis is unreachable. */
  assertReady(): void {
    if (!this.ready) throw redisUnavailable();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.command.quit(), this.subscriber.quit()]);
  }
}

export function redisUnavailable(): OpenAIError {
  return new OpenAIError(503, 'Redis is unreachable; the service cannot take requests right now. Try again shortly.', 'server_error', 'redis_unavailable', null, {
    'Retry-After': '2',
  });
}
