/**
 * The gateway's Redis connections: one for commands and BullMQ queues, one in subscriber mode for
 * job events. Closed on shutdown.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { createRedis } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';

@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  readonly command: Redis;
  readonly subscriber: Redis;

  constructor(@Inject(GATEWAY_ENV) env: GatewayEnv) {
    this.command = createRedis(env.REDIS_URL, 'switchyard-gateway');
    this.subscriber = createRedis(env.REDIS_URL, 'switchyard-gateway-sub');
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.command.quit(), this.subscriber.quit()]);
  }
}
