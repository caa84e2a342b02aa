/**
 * A client that goes away stops its generation: the worker aborts and the slot serves the next
 * request at once (a model with one slot proves it).
 *
 * Every step waits for the state it assumes (the job running on the worker, the heartbeat counting
 * its slot, the job waiting in the queue), read from Redis and BullMQ themselves, with deadlines far
 * beyond what a loaded machine needs; none of the checks compares a duration.
 */
import Redis from 'ioredis';
import { Queue } from 'bullmq';
import { BACKENDS, REDIS_PREFIX, jobEventsStream, type JobEvent } from '@switchyard/contracts';
import { waitUntil } from '@switchyard/runtime';
import { busySlots, startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

let stack: Stack;
let redis: Redis;
let queue: Queue;
const MODEL = 'tiny-long';
/** The answer to `quickRequest` on the idle stack: the slot a cancel freed must give the same. */
let reference: CompletionAnswer;

interface CompletionAnswer {
  choices: Array<{ text: string; finish_reason: string }>;
  usage: { prompt_tokens: number; completion_tokens: number };
}

beforeAll(async () => {
  const path = await tinyModel('tiny-long', { contextLength: 32768 });
  stack = await startStack({ models: [{ name: MODEL, path, parallel: 1, context_size: 32768 }] });
  redis = new Redis(stack.redis.url);
  // The gateway's own queue for the model: BullMQ's view of what waits and what runs.
  queue = new Queue(BACKENDS['llama.cpp'].queueName(MODEL), { connection: { host: '127.0.0.1', port: stack.redis.port }, prefix: REDIS_PREFIX });
  reference = await quickRequest();
  expect(reference.usage.completion_tokens).toBe(1);
  expect(reference.choices[0].finish_reason).toBe('length');
});
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await stack?.stop();
});

/** A one-token request on the single slot (greedy, so its answer is always the same). */
async function quickRequest(): Promise<CompletionAnswer> {
  const res = await fetch(`${stack.baseUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: 'Hi', max_tokens: 1, temperature: 0 }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as CompletionAnswer;
}

/** The events a job's worker published, from the job's replay log. */
async function eventsOf(jobId: string): Promise<JobEvent[]> {
  const entries = await redis.xrange(jobEventsStream(jobId), '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1]) as JobEvent);
}

/**
 * The ids of the model's long jobs in one state, once exactly `count` are there. Only the long ones:
 * a quick request's client has its answer at the job's `done` event, a moment before BullMQ moves
 * the job out of `active` (a loaded machine widens that moment).
 */
async function jobsOnceThere(state: 'active' | 'waiting', count: number, what: string): Promise<string[]> {
  let ids: string[] = [];
  await waitUntil(
    async () => {
      ids = (await queue.getJobs([state])).filter((j) => (j.data as { prompt?: unknown }).prompt === long.prompt).map((j) => j.id!);
      return ids.length === count;
    },
    30_000,
    what,
    stack.logs,
  );
  return ids;
}

/** Waits until the worker says the job runs: BullMQ has it active and the heartbeat counts its slot. */
async function runningJob(): Promise<string> {
  const [jobId] = await jobsOnceThere('active', 1, 'the long generation to be active');
  await waitUntil(async () => (await busySlots(stack, MODEL)) === 1, 30_000, "the heartbeat to count the long generation's slot", stack.logs);
  // Still the same job, and it has really started generating (its log is capped, so a fast machine
  // may have trimmed the start already: any event will do).
  expect(await queue.getJobState(jobId)).toBe('active');
  expect((await eventsOf(jobId)).length).toBeGreaterThan(0);
  return jobId;
}

/**
 * After its client left: the job leaves the worker, stopped mid-generation (it published no `done`,
 * so it did not run to its end), the heartbeat shows the slot free, and the slot answers as before.
 */
async function expectStoppedAndSlotFree(jobId: string): Promise<void> {
  await waitUntil(async () => (await queue.getJobState(jobId)) !== 'active', 30_000, 'the cancelled job to leave the worker', stack.logs);
  const events = await eventsOf(jobId);
  expect(events.filter((e) => e.type === 'done' || e.type === 'error' || e.type === 'result')).toEqual([]);
  expect(events[events.length - 1]).toMatchObject({ type: 'delta' });
  await waitUntil(async () => (await busySlots(stack, MODEL)) === 0, 30_000, 'the heartbeat to show the slot free', stack.logs);
  expect(await queue.getJobCounts('active', 'waiting')).toMatchObject({ active: 0, waiting: 0 });
  const quick = await quickRequest();
  expect(quick.choices).toEqual(reference.choices);
  expect(quick.usage).toMatchObject({ prompt_tokens: reference.usage.prompt_tokens, completion_tokens: 1 });
}

// A full-context generation takes many seconds on this model: it is still running at every check
// made before its client leaves, and could only end with a `done` event if nothing stopped it.
const long = { model: MODEL, prompt: 'Once', max_tokens: 30000, temperature: 0 };

describe('cancellation (e2e)', () => {
  it('a streaming client that disconnects frees the slot for the next request', async () => {
    const controller = new AbortController();
    const res = await fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...long, stream: true }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: \{/);
    const jobId = await runningJob();
    controller.abort();
    await expectStoppedAndSlotFree(jobId);
  });

  it('a non-streaming client that disconnects frees the slot too', async () => {
    const controller = new AbortController();
    const pending = fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(long),
      signal: controller.signal,
    }).catch((e: Error) => e);
    const jobId = await runningJob();
    controller.abort();
    expect(await pending).toHaveProperty('name', 'AbortError');
    await expectStoppedAndSlotFree(jobId);
  });

  it('a waiting request whose client leaves is removed from the queue, not run', async () => {
    const first = new AbortController();
    const running = fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(long),
      signal: first.signal,
    }).catch((e: Error) => e);
    const runningId = await runningJob();
    const second = new AbortController();
    const waiting = fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(long),
      signal: second.signal,
    }).catch((e: Error) => e);
    // The second job is in the queue, waiting behind the first for the only slot.
    const [waitingId] = await jobsOnceThere('waiting', 1, 'the second request to wait in the queue');
    expect(waitingId).not.toBe(runningId);
    second.abort();
    expect(await waiting).toHaveProperty('name', 'AbortError');
    // Gone from the queue (BullMQ no longer knows it) while the first still holds the slot: it was
    // removed, not left to be taken and dropped once the slot frees.
    await waitUntil(async () => (await queue.getJobState(waitingId)) === 'unknown', 30_000, 'the waiting job to be removed', stack.logs);
    expect(await queue.getJobState(runningId)).toBe('active');
    expect(await queue.getJobCounts('active', 'waiting')).toMatchObject({ active: 1, waiting: 0 });
    expect(await redis.llen(`${REDIS_PREFIX}:${BACKENDS['llama.cpp'].queueName(MODEL)}:wait`)).toBe(0);
    // No worker ever took it.
    expect(await eventsOf(waitingId)).toEqual([]);
    first.abort();
    expect(await running).toHaveProperty('name', 'AbortError');
    await expectStoppedAndSlotFree(runningId);
    // Still nothing: it never ran after the slot freed either.
    expect(await eventsOf(waitingId)).toEqual([]);
  });
});
