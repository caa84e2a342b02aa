/**
 * Worker heartbeats in Redis: one expiring key per worker plus its id in the workers set. Written by
 * every worker (llm, upstream, onnx) and, on a runner's behalf, by the gateway holding its connection.
 */
import type Redis from 'ioredis';
import { HEARTBEAT_TTL_SECONDS, WORKERS_SET_KEY, workerHeartbeatKey, type WorkerHeartbeat } from '@switchyard/contracts';

export async function writeHeartbeat(redis: Redis, hb: WorkerHeartbeat): Promise<void> {
  await redis.multi().set(workerHeartbeatKey(hb.id), JSON.stringify(hb), 'EX', HEARTBEAT_TTL_SECONDS).sadd(WORKERS_SET_KEY, hb.id).exec();
}

/** Says goodbye at once; when Redis is unreachable the key expires on its own. */
export async function removeHeartbeat(redis: Redis, workerId: string): Promise<void> {
  try {
    await redis.multi().del(workerHeartbeatKey(workerId)).srem(WORKERS_SET_KEY, workerId).exec();
  } catch {
    // expires after HEARTBEAT_TTL_SECONDS
  }
}
