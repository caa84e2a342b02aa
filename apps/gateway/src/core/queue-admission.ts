/**
 * Backpressure per model, decided in one Redis step so a burst cannot overshoot `max_queue`: a Lua
 * script counts the model's jobs in BullMQ (waiting, prioritized, running) plus the jobs other
 * requests were just admitted with but have not added yet, and reserves room for the new ones when
 * they fit in the model's slots plus `max_queue`. A reservation ends when its job is in the queue
 * (the queue then counts it) and expires on its own, so a gateway dying between the two leaks nothing.
 */
import type { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { admissionKey } from '@switchyard/contracts';

/** Far longer than a Queue.add takes; only a reservation whose gateway died lives this long. */
const RESERVATION_TTL_MS = 30_000;

const ADMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3]) + redis.call('ZCARD', KEYS[4])
  + redis.call('LLEN', KEYS[5])
-- A reservation whose job is already in the queue is counted there: between the job's add and the
-- reservation's release it would otherwise count twice (spurious 429s on a loaded machine).
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', ARGV[3] .. id) == 0 then held = held + 1 end
end
local ttl = tonumber(ARGV[2])
if held + #ARGV - 3 > tonumber(ARGV[1]) then return {0, held} end
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, held}
`;

type AdmitCommand = (zset: string, wait: string, paused: string, prioritized: string, active: string, capacity: number, ttlMs: number, jobKeyPrefix: string, ...jobIds: string[]) => Promise<[number, number]>;

export interface Admission {
  admitted: boolean;
  /** Jobs of the model in the queue (waiting or running) when the script ran. */
  held: number;
}

export class QueueAdmission {
  private readonly admitCommand: AdmitCommand;

  constructor(private readonly redis: Redis) {
    redis.defineCommand('switchyardAdmit', { numberOfKeys: 5, lua: ADMIT_SCRIPT });
    const command = (redis as unknown as Record<'switchyardAdmit', AdmitCommand>).switchyardAdmit;
    this.admitCommand = command.bind(redis);
  }

  /** Reserves room for `jobIds` when the queue holds fewer than `capacity` jobs with them. */
  async reserve(queue: Queue, capacity: number, jobIds: string[]): Promise<Admission> {
    const k = queue.keys;
    // A job's hash is the queue's key prefix plus its id (BullMQ's `queue.toKey(id)`).
    const [ok, held] = await this.admitCommand(admissionKey(queue.name), k.wait, k.paused, k.prioritized, k.active, capacity, RESERVATION_TTL_MS, queue.toKey(''), ...jobIds);
    return { admitted: ok === 1, held };
  }

  /** The job is in the queue now (or will never be): its reservation ends. */
  async release(queue: Queue, ...jobIds: string[]): Promise<void> {
    await this.redis.zrem(admissionKey(queue.name), ...jobIds);
  }
}
