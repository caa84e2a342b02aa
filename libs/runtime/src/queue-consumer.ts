/**
 * A model's BullMQ consumer on its own Redis connection, as every model host opens one: Switchyard's
 * prefix, the host's concurrency and lock timing, one stall retry, errors logged, and the jobs of
 * gateways that died dropped (see OwnerWatch).
 */
import { Worker, type Processor } from 'bullmq';
import type Redis from 'ioredis';
import type { Logger } from './logger';
import { OwnerWatch } from './owner-watch';
import { createRedis } from './redis';

export interface QueueConsumer<T> {
  worker: Worker<T>;
  connection: Redis;
}

export function consumeQueue<T>(
  queue: string,
  process: Processor<T>,
  o: { redisUrl: string; connectionName: string; prefix: string; concurrency: number; lockDuration: number; stalledInterval: number; log: Logger },
): QueueConsumer<T> {
  const connection = createRedis(o.redisUrl, o.connectionName);
  const owners = new OwnerWatch(connection, o.log);
  const worker = new Worker<T>(queue, owners.wrap(process), {
    connection,
    prefix: o.prefix,
    concurrency: o.concurrency,
    lockDuration: o.lockDuration,
    stalledInterval: o.stalledInterval,
    // A job whose worker died goes back to the queue once (the host decides what a retry does).
    maxStalledCount: 1,
  });
  worker.on('error', (err) => o.log.error('queue worker error', { error: err.message }));
  worker.on('closed', () => owners.stop());
  return { worker, connection };
}
