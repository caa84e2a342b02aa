/**
 * Integration test (real redis-server, real BullMQ queue): admission counts each job once, also in
 * the moment after its add and before its reservation is released.
 */
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { REDIS_PREFIX } from '@switchyard/contracts';
import { startLocalRedis, type LocalRedis } from '@switchyard/runtime';
import { QueueAdmission } from './queue-admission';

describe('QueueAdmission (integration)', () => {
  let local: LocalRedis;
  let redis: Redis;
  let queue: Queue;

  beforeAll(async () => {
    local = await startLocalRedis();
    redis = new Redis(local.url);
    queue = new Queue('llm.admission-test', { connection: new Redis(local.url, { maxRetriesPerRequest: null }), prefix: REDIS_PREFIX });
  });
  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await local?.stop();
  });

  it('does not count a job twice while its reservation is still held', async () => {
    const admission = new QueueAdmission(redis);
    expect((await admission.reserve(queue, 2, ['a'])).admitted).toBe(true);
    // The job is in the queue now; its reservation has not been released yet.
    await queue.add('completion', {}, { jobId: 'a' });
    const second = await admission.reserve(queue, 2, ['b']);
    expect(second).toEqual({ admitted: true, held: 1 });
    // Full now: 'a' in the queue and 'b' reserved.
    expect(await admission.reserve(queue, 2, ['c'])).toEqual({ admitted: false, held: 2 });
    await admission.release(queue, 'a', 'b');
  });
});
