/**
 * Queue, channel and key names shared by the gateway and the workers.
 *
 * Renaming anything here is a migration: gateways and workers of different versions on one Redis
 * must agree on these strings.
 */

/** Prefix of every Redis key Switchyard writes (BullMQ's `prefix` option uses it too). */
export const REDIS_PREFIX = 'switchyard';

/** Backends a model can be served by; each maps to a family of queues. */
export type Backend = 'llama.cpp' | 'upstream' | 'runner' | 'onnx';

/**
 * BullMQ rejects ':' in queue names, and model names such as `qwen2.5:0.5b` or `org/model` are common,
 * so every character outside a safe set is escaped to keep distinct names distinct.
 */
export function llmQueueName(modelName: string): string {
  const safe = modelName.replace(/[^A-Za-z0-9._-]/g, (c) => `~${c.codePointAt(0)!.toString(16)}~`);
  return `llm.${safe}`;
}

/** Live events of one job (PUBLISH). */
export function jobEventsChannel(jobId: string): string {
  return `${REDIS_PREFIX}:job:${jobId}:events`;
}

/** Replay log of one job's events (XADD, capped and expiring). */
export function jobEventsStream(jobId: string): string {
  return `${REDIS_PREFIX}:job:${jobId}:log`;
}

/** Cancel requests for one job (PUBLISH) and the flag that survives a worker not yet subscribed. */
export function jobCancelChannel(jobId: string): string {
  return `${REDIS_PREFIX}:job:${jobId}:cancel`;
}
/** Workers PSUBSCRIBE once to every job's cancel channel instead of subscribing per job. */
export const JOB_CANCEL_PATTERN = `${REDIS_PREFIX}:job:*:cancel`;
export function jobIdFromCancelChannel(channel: string): string | undefined {
  const head = `${REDIS_PREFIX}:job:`;
  const tail = ':cancel';
  return channel.startsWith(head) && channel.endsWith(tail) ? channel.slice(head.length, -tail.length) : undefined;
}
export function jobCancelKey(jobId: string): string {
  return `${REDIS_PREFIX}:job:${jobId}:cancelled`;
}

/** Worker heartbeats: a set of ids plus one expiring key per worker. */
export const WORKERS_SET_KEY = `${REDIS_PREFIX}:workers`;
export function workerHeartbeatKey(workerId: string): string {
  return `${REDIS_PREFIX}:worker:${workerId}`;
}

/** How long the per-job replay stream lives after its last event. */
export const JOB_EVENTS_TTL_SECONDS = 300;
/** Upper bound on entries kept per job stream (a long generation keeps its tail). */
export const JOB_EVENTS_MAXLEN = 10000;
/** Heartbeat period and the time after which a silent worker counts as gone. */
export const HEARTBEAT_INTERVAL_MS = 2000;
export const HEARTBEAT_TTL_SECONDS = 6;

/**
 * Gateway liveness: each gateway refreshes one expiring key while it runs, and stamps its id on the
 * jobs it enqueues (`JobOwner.owner`), so workers can drop the jobs of a gateway that died (nobody
 * is left to read their events).
 */
export function gatewayHeartbeatKey(gatewayId: string): string {
  return `${REDIS_PREFIX}:gateway:${gatewayId}`;
}
export const GATEWAY_HEARTBEAT_INTERVAL_MS = 1000;
export const GATEWAY_HEARTBEAT_TTL_MS = 5000;

/** Admission reservations per queue: jobs admitted by a gateway but not yet added to the queue. */
export function admissionKey(queueName: string): string {
  return `${REDIS_PREFIX}:admission:${queueName}`;
}

/**
 * Requests waiting for a worker to serve a model nobody serves yet, per queue: a sorted set of one
 * member per job, scored by the time it expires (a gateway that died leaves entries that time out).
 * The autoscaler's scale-from-zero signal: such a request is not in the queue yet.
 */
export function awaitingWorkerKey(queueName: string): string {
  return `${REDIS_PREFIX}:awaiting:${queueName}`;
}
