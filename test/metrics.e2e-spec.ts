/**
 * Prometheus metrics end to end, on one stack (gateway with keys and METRICS_PORT, one llm worker
 * with WORKER_HTTP_PORT): /metrics auth, request counters and histograms moving with real requests,
 * tokens matching the responses' usage, queue depth rising while jobs wait, rejections by reason,
 * fleet gauges from heartbeats, the worker's own metrics, and bounded route labels.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { freePort } from '@switchyard/runtime';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { ROOT, startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

const USER = 'sk-user-metrics-0001';
const ADMIN = 'sk-admin-metrics-001';

let stack: Stack;
let metricsPort = 0;
let workerPort = 0;
let client: OpenAI;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, sample lines only (enough for what these tests read). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `labels` (0 when there are none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

function has(samples: Sample[], name: string, labels: Record<string, string> = {}): boolean {
  return samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

async function gatewayMetrics(): Promise<Sample[]> {
  const res = await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return parse(await res.text());
}

async function workerMetrics(): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${workerPort}/metrics`);
  expect(res.status).toBe(200);
  return parse(await res.text());
}

/** Polls until `check` holds (responses are counted when they close, a moment after the client has them). */
async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}\n${stack.logs.slice(-30).join('')}`);
}

function complete(body: object, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.baseUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${USER}` },
    body: JSON.stringify(body),
    signal,
  });
}

beforeAll(async () => {
  const path = await tinyModel('tiny-long', { contextLength: 32768 });
  metricsPort = await freePort();
  workerPort = await freePort();
  stack = await startStack({
    models: [
      { name: 'm', path, parallel: 1, max_queue: 2, context_size: 32768 },
      { name: 'manual', path, preload: false, auto_load: false },
    ],
    gatewayEnv: { API_KEYS: USER, ADMIN_KEYS: ADMIN, METRICS_PORT: String(metricsPort), WORKER_WAIT_MS: '300' },
    workerEnv: { WORKER_HTTP_PORT: String(workerPort) },
  });
  client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: USER, maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

describe('GET /metrics (e2e)', () => {
  it('needs the admin key when keys are configured; METRICS_PORT serves it without one', async () => {
    expect((await fetch(`${stack.baseUrl}/metrics`)).status).toBe(401);
    const user = await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${USER}` } });
    expect(user.status).toBe(403);
    expect(((await user.json()) as { error: { code: string } }).error.code).toBe('admin_key_required');
    const admin = await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(admin.status).toBe(200);
    expect(admin.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await admin.text();
    expect(text).toContain('# TYPE switchyard_http_requests_total counter');
    expect(text).toContain('process_cpu_seconds_total');
    const open = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(open.status).toBe(200);
    expect(await open.text()).toContain('switchyard_fleet_workers');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/v1/models`)).status).toBe(404);
  });

  it('counts 3 requests by 3, observes their durations and first tokens, and adds up their tokens', async () => {
    const labels = { route: '/v1/chat/completions', method: 'POST', status: '200', model: 'm' };
    const before = await gatewayMetrics();
    const workerBefore = await workerMetrics();
    let prompt = 0;
    let completion = 0;
    for (let i = 0; i < 3; i++) {
      const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `Hello ${i}` }], max_tokens: 8, temperature: 0 });
      prompt += r.usage!.prompt_tokens;
      completion += r.usage!.completion_tokens;
    }
    let after: Sample[] = [];
    await until('3 requests counted', async () => {
      after = await gatewayMetrics();
      return value(after, 'switchyard_http_requests_total', labels) - value(before, 'switchyard_http_requests_total', labels) >= 3;
    });
    const delta = (name: string, l: Record<string, string>): number => value(after, name, l) - value(before, name, l);
    expect(delta('switchyard_http_requests_total', labels)).toBe(3);
    expect(delta('switchyard_http_request_duration_seconds_count', { route: '/v1/chat/completions', model: 'm' })).toBe(3);
    expect(delta('switchyard_http_request_duration_seconds_sum', { route: '/v1/chat/completions', model: 'm' })).toBeGreaterThan(0);
    expect(delta('switchyard_time_to_first_token_seconds_count', { model: 'm' })).toBe(3);
    expect(delta('switchyard_prompt_tokens_total', { model: 'm' })).toBe(prompt);
    expect(delta('switchyard_completion_tokens_total', { model: 'm' })).toBe(completion);
    expect(completion).toBeGreaterThan(3);
    expect(delta('switchyard_generation_tokens_per_second_count', { model: 'm' })).toBeGreaterThan(0);
    // The worker saw the same three jobs and tokens.
    const worker = await workerMetrics();
    const wDelta = (name: string, l: Record<string, string>): number => value(worker, name, l) - value(workerBefore, name, l);
    expect(wDelta('switchyard_worker_jobs_total', { kind: 'chat', model: 'm', outcome: 'ok', worker: 'worker-0' })).toBe(3);
    expect(wDelta('switchyard_worker_job_duration_seconds_count', { kind: 'chat', model: 'm' })).toBe(3);
    expect(wDelta('switchyard_worker_queue_wait_seconds_count', { model: 'm' })).toBe(3);
    expect(wDelta('switchyard_worker_generated_tokens_total', { model: 'm' })).toBe(completion);
    expect(wDelta('switchyard_worker_prompt_tokens_total', { model: 'm' })).toBe(prompt);
  });

  it('times a stream to its end and its first token', async () => {
    const before = await gatewayMetrics();
    const stream = await client.completions.create({ model: 'm', prompt: 'Once', max_tokens: 16, temperature: 0, stream: true });
    let pieces = 0;
    for await (const chunk of stream) if (chunk.choices[0]?.text) pieces++;
    expect(pieces).toBeGreaterThan(0);
    let after: Sample[] = [];
    await until('the stream counted', async () => {
      after = await gatewayMetrics();
      return value(after, 'switchyard_http_requests_total', { route: '/v1/completions', status: '200' }) > value(before, 'switchyard_http_requests_total', { route: '/v1/completions', status: '200' });
    });
    expect(value(after, 'switchyard_time_to_first_token_seconds_count', { model: 'm' }) - value(before, 'switchyard_time_to_first_token_seconds_count', { model: 'm' })).toBe(1);
    const durBefore = value(before, 'switchyard_http_request_duration_seconds_sum', { route: '/v1/completions' });
    const ttftBefore = value(before, 'switchyard_time_to_first_token_seconds_sum', { model: 'm' });
    // The stream's duration runs to its last event, so it is at least its time to first token.
    expect(value(after, 'switchyard_http_request_duration_seconds_sum', { route: '/v1/completions' }) - durBefore).toBeGreaterThanOrEqual(value(after, 'switchyard_time_to_first_token_seconds_sum', { model: 'm' }) - ttftBefore);
  });

  it('labels an unknown URL as unmatched, never by its path', async () => {
    const res = await fetch(`${stack.baseUrl}/v1/nope/12345`, { headers: { authorization: `Bearer ${USER}` } });
    expect(res.status).toBe(404);
    await until('the 404 counted', async () => has(await gatewayMetrics(), 'switchyard_http_requests_total', { route: 'unmatched', status: '404' }));
    const res2 = await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(await res2.text()).not.toContain('12345');
  });

  it('shows jobs waiting while the only slot is busy, and counts the 429 past max_queue by its reason', async () => {
    const long = new AbortController();
    const running = complete({ model: 'm', prompt: 'Once', max_tokens: 20_000, temperature: 0, stream: true }, long.signal).catch(() => undefined);
    await until('the slot busy', async () => value(await gatewayMetrics(), 'switchyard_fleet_slots_busy', { model: 'm' }) === 1);
    const waiting = [complete({ model: 'm', prompt: 'A', max_tokens: 2 }), complete({ model: 'm', prompt: 'B', max_tokens: 2 })];
    let seen: Sample[] = [];
    await until('2 jobs waiting', async () => {
      seen = await gatewayMetrics();
      return value(seen, 'switchyard_queue_jobs', { model: 'm', state: 'waiting' }) === 2;
    });
    expect(value(seen, 'switchyard_queue_jobs', { model: 'm', state: 'active' })).toBe(1);
    const rejectedBefore = value(seen, 'switchyard_rejected_requests_total', { reason: 'queue_full', status: '429', model: 'm' });
    const full = await complete({ model: 'm', prompt: 'C', max_tokens: 2 });
    expect(full.status).toBe(429);
    const body: unknown = await full.json();
    if (openapiAvailable()) expect(schemaErrors('ErrorResponse', body)).toEqual([]);
    await until('the 429 counted', async () => value(await gatewayMetrics(), 'switchyard_rejected_requests_total', { reason: 'queue_full', status: '429', model: 'm' }) === rejectedBefore + 1);
    long.abort();
    await running;
    for (const r of await Promise.all(waiting)) expect(r.status).toBe(200);
    await until('the queue empty', async () => {
      const s = await gatewayMetrics();
      return value(s, 'switchyard_queue_jobs', { model: 'm', state: 'waiting' }) === 0 && value(s, 'switchyard_queue_jobs', { model: 'm', state: 'active' }) === 0;
    });
    // The cut stream is counted as the client's 499, and the worker counts its job as aborted.
    await until('the cut stream counted', async () => has(await gatewayMetrics(), 'switchyard_http_requests_total', { route: '/v1/completions', status: '499' }));
    await until('the aborted job counted', async () => value(await workerMetrics(), 'switchyard_worker_jobs_total', { model: 'm', outcome: 'aborted' }) >= 1);
  });

  it('counts a 503 for a model nobody serves by its reason', async () => {
    const before = value(await gatewayMetrics(), 'switchyard_rejected_requests_total', { reason: 'no_worker_available', status: '503', model: 'manual' });
    const res = await complete({ model: 'manual', prompt: 'A', max_tokens: 2 });
    expect(res.status).toBe(503);
    await until('the 503 counted', async () => value(await gatewayMetrics(), 'switchyard_rejected_requests_total', { reason: 'no_worker_available', status: '503', model: 'manual' }) === before + 1);
  });

  it('reads the fleet from heartbeats: workers by kind, models per worker, slots', async () => {
    const s = await gatewayMetrics();
    expect(value(s, 'switchyard_redis_up')).toBe(1);
    expect(value(s, 'switchyard_fleet_workers', { kind: 'llama.cpp' })).toBe(1);
    expect(value(s, 'switchyard_fleet_workers', { kind: 'onnx' })).toBe(0);
    expect(value(s, 'switchyard_fleet_models_loaded', { worker: 'worker-0', kind: 'llama.cpp' })).toBe(1);
    expect(value(s, 'switchyard_fleet_model_state', { worker: 'worker-0', model: 'm', state: 'ready' })).toBe(1);
    expect(value(s, 'switchyard_fleet_slots', { model: 'm' })).toBe(1);
    const w = await workerMetrics();
    expect(value(w, 'switchyard_worker_slots', { model: 'm' })).toBe(1);
    expect(value(w, 'switchyard_worker_model_state', { model: 'm', state: 'ready' })).toBe(1);
    expect(value(w, 'switchyard_worker_model_load_seconds_count', { model: 'm', outcome: 'ok' })).toBe(1);
  });

  it('times a load the admin API commands, on the gateway and on the worker', async () => {
    const res = await fetch(`${stack.baseUrl}/admin/models/manual/load`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: '{}' });
    expect(res.status).toBe(200);
    const s = await gatewayMetrics();
    expect(value(s, 'switchyard_model_load_seconds_count', { model: 'manual' })).toBe(1);
    await until('the fleet to show 2 models', async () => value(await gatewayMetrics(), 'switchyard_fleet_models_loaded', { worker: 'worker-0' }) === 2);
    expect(value(await workerMetrics(), 'switchyard_worker_model_load_seconds_count', { model: 'manual', outcome: 'ok' })).toBe(1);
  });

  it('the Grafana dashboard reads only metrics the gateway or a worker exports', async () => {
    const dashboard = readFileSync(join(ROOT, 'deploy/grafana/switchyard.json'), 'utf8');
    const names = new Set([...dashboard.matchAll(/\b(switchyard_[a-z_]+)/g)].map((m) => m[1].replace(/_bucket$/, '')));
    expect(names.size).toBeGreaterThan(10);
    const gatewayText = await (await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    const workerText = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();
    const missing = [...names].filter((n) => !gatewayText.includes(`# TYPE ${n} `) && !workerText.includes(`# TYPE ${n} `));
    expect(missing).toEqual([]);
  });
});
