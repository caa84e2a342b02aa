/**
 * This gateway's liveness in Redis: one expiring key refreshed every second (and at once after a
 * reconnect, since a restarted Redis is empty). Workers drop the jobs stamped with the id of a
 * gateway whose key is gone: nobody is left to read their events, and their slots are needed.
 */
import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { GATEWAY_HEARTBEAT_INTERVAL_MS, GATEWAY_HEARTBEAT_TTL_MS, gatewayHeartbeatKey } from '@switchyard/contracts';
import { Logger } from '@switchyard/runtime';
import { RedisConnections } from './redis-connections';

@Injectable()
export class GatewayHeartbeat implements OnModuleInit, OnApplicationShutdown {
  readonly id = randomUUID();
  private readonly log = new Logger('gateway.heartbeat');
  private timer: NodeJS.Timeout | undefined;
  private readonly onReady = (): void => void this.beat();

  constructor(private readonly redis: RedisConnections) {}

  async onModuleInit(): Promise<void> {
    this.redis.command.on('ready', this.onReady);
    this.timer = setInterval(() => void this.beat(), GATEWAY_HEARTBEAT_INTERVAL_MS);
    await this.beat();
  }

  private async beat(): Promise<void> {
    // While Redis is down a queued SET would land late and pile up; the next tick after 'ready' writes.
    if (this.redis.command.status !== 'ready') return;
    try {
      await this.redis.command.set(gatewayHeartbeatKey(this.id), String(process.pid), 'PX', GATEWAY_HEARTBEAT_TTL_MS);
    } catch (err) {
      this.log.warn('gateway heartbeat failed', { error: (err as Error).message });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.redis.command.off('ready', this.onReady);
    // Jobs still running for this gateway were cancelled by their requests closing; the key goes now.
    await this.redis.command.del(gatewayHeartbeatKey(this.id)).catch(() => undefined);
  }
}
