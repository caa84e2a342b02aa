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
    // Stored on each job it takes (BullMQ's processedBy): which worker holds or held a job.
    name: o.connectionName,
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

/**
 * Stops a BullMQ worker (its running jobs finish first, as `worker.close()` does), then quits the
 * connection it was given, if any. Every host closes its consumer this way, because of how BullMQ
 * starts a connection: each of the worker's connections sends INFO right after it is made, and
 * `RedisConnection.close()` drops that connection's error listeners even while its INFO is still in
 * flight; quitting the client then fails the INFO, and the failure is emitted with nobody listening,
 * which kills the process (taskforcesh/bullmq#3546). An unload right after a load (commands run
 * one after another, so a load followed by an unload is exactly that) did it. Closing only once the
 * worker's connections have started means there is no start-up left to fail.
 */
export async function closeQueueWorker(worker: Worker, connection?: Redis): Promise<void> {
  // Waits for Redis when it is unreachable; that is also when nothing could be closed cleanly.
  await worker.waitUntilReady().catch(() => undefined);
  await worker.close();
  await connection?.quit().catch(() => undefined);
}
