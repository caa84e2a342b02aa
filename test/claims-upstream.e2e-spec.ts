/**
 * Claims of README.md about upstream models and remote runners that no other suite checks, end to
 * end: a real gateway (with its gRPC runner endpoint), upstream worker and runners as separate
 * processes, real Redis and BullMQ, in front of scripted OpenAI-compatible servers on loopback.
 *
 * - an upstream 400/422 stays a 400 with the upstream's message and `param` (and is not retried on
 *   another deployment); an upstream that rejects the gateway's key or model id (401/403/404) is a 502;
 * - a deployment that just failed for real (a 500) is tried last for the next 10 s;
 * - a runner reconnects with exponential backoff (0.5 s doubling, with jitter);
 * - `RUNNER_MAX_QUEUE` requests may wait for a runner model, the next one gets 429 `queue_full`.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { BACKENDS, REDIS_PREFIX } from '@switchyard/contracts';
import { freePort, startApp, stopProcess, waitUntil } from '@switchyard/runtime';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai';
import { ROOT, startStack, waitForWorker, type Stack } from './support/stack';

jest.setTimeout(120_000);

const TOKEN = 'rt-claims-token-5e1d';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- OpenAI bodies of many shapes
type Json = any;

interface Answer {
  status: number;
  json: Json;
  headers: Headers;
}

/**
 * An OpenAI-compatible server that answers every request for upstream model `status-NNN` with HTTP
 * NNN and an OpenAI error body (tools/fake-openai.ts scripts 400, 429 and 500 only).
 */
interface StatusServer {
  url: string;
  models: string[];
  close(): Promise<void>;
}

async function startStatusServer(): Promise<StatusServer> {
  const models: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { model?: string };
      const model = String(body.model ?? '');
      models.push(model);
      const status = Number(/^status-(\d{3})$/.exec(model)?.[1] ?? 500);
      const error =
        status === 422
          ? { message: "Unprocessable: 'response_format.json_schema' is not supported by this model.", type: 'invalid_request_error', param: 'response_format', code: 'unsupported_schema' }
          : { message: `scripted status ${status}`, type: 'invalid_request_error', param: null, code: null };
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/v1`, models, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The last user message's text of a request the fake recorded. */
function userText(body: Record<string, unknown>): string {
  const messages = (body.messages ?? []) as Array<{ role: string; content: unknown }>;
  return String([...messages].reverse().find((m) => m.role === 'user')?.content ?? '');
}

describe('upstream and runner claims (e2e)', () => {
  let fake: FakeOpenAI;
  let statuses: StatusServer;
  let stack: Stack;
  let grpcPort: number;
  let runnerDir: string;
  const runners: ChildProcess[] = [];

  async function chat(model: string, content: string, extra: object = {}, base = stack.baseUrl, signal?: AbortSignal): Promise<Answer> {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content }], ...extra }),
      signal,
    });
    const text = await res.text();
    return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : text, headers: res.headers };
  }

  async function modelIds(): Promise<string[]> {
    return ((await (await fetch(`${stack.baseUrl}/v1/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
  }

  /** A runner serving one upstream model of the fake; its raw stdout and stderr go into `out`. */
  function startRunner(name: string, model: string, upstreamModel: string, gateway: string, out: { text: string }, extra = ''): ChildProcess {
    const file = join(runnerDir, `${name}.yaml`);
    writeFileSync(file, `models:\n  - { name: ${model}, backend: upstream, base_url: "${fake.url}", upstream_model: ${upstreamModel}${extra} }\n`);
    const child = startApp(ROOT, 'runner', { RUNNER_GATEWAY: gateway, RUNNER_TOKEN: TOKEN, RUNNER_NAME: name, RUNNER_MODELS_FILE: file, LOG_LEVEL: 'info' }, stack.logs);
    child.stdout?.on('data', (b: Buffer) => (out.text += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out.text += b.toString()));
    runners.push(child);
    return child;
  }

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    statuses = await startStatusServer();
    grpcPort = await freePort();
    runnerDir = mkdtempSync(join(tmpdir(), 'switchyard-claims-runner-'));
    const entry = (name: string, url: string, upstreamModel: string): string[] => [`  - name: ${name}`, '    backend: upstream', `    base_url: ${url}`, `    upstream_model: ${upstreamModel}`];
    stack = await startStack({
      models: [],
      noWorker: true,
      upstreamWorker: {},
      gatewayEnv: { RUNNER_GRPC_PORT: String(grpcPort), RUNNER_GRPC_HOST: '127.0.0.1', RUNNER_TOKENS: TOKEN, RUNNER_MAX_QUEUE: '1' },
      extraModelsYaml: [
        ...entry('up-422', statuses.url, 'status-422'),
        ...entry('up-401', statuses.url, 'status-401'),
        ...entry('up-403', statuses.url, 'status-403'),
        ...entry('up-404', statuses.url, 'status-404'),
        '  - name: up-422-first',
        '    backend: upstream',
        '    routing: fallback',
        '    deployments:',
        `      - { base_url: "${statuses.url}", upstream_model: status-422 }`,
        `      - { base_url: "${fake.url}", upstream_model: echo }`,
        '  - name: up-cooling',
        '    backend: upstream',
        '    routing: fallback',
        '    deployments:',
        `      - { base_url: "${fake.url}", upstream_model: fail-500 }`,
        `      - { base_url: "${fake.url}", upstream_model: echo }`,
      ],
    });
    await waitForWorker(stack, ['up-422', 'up-401', 'up-403', 'up-404', 'up-422-first', 'up-cooling']);
  });

  afterAll(async () => {
    await Promise.all(runners.map((r) => stopProcess(r)));
    await stack?.stop();
    await fake?.close();
    await statuses?.close();
  });

  it('an upstream 422 stays a 400 with its message and param, streamed or not, and no other deployment is tried', async () => {
    for (const stream of [false, true]) {
      const r = await chat('up-422', 'x', { stream });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({
        type: 'invalid_request_error',
        param: 'response_format',
        code: 'unsupported_schema',
        message: "Unprocessable: 'response_format.json_schema' is not supported by this model.",
      });
    }
    // The request is what the upstream rejects, so the next deployment would reject it too.
    const before = fake.requests.length;
    const first = await chat('up-422-first', 'not retried');
    expect(first.status).toBe(400);
    expect(first.json.error.param).toBe('response_format');
    expect(fake.requests.length).toBe(before);
  });

  it.each([401, 403, 404])('an upstream %i (its key or model id refused) is a 502', async (status) => {
    for (const stream of [false, true]) {
      const before = statuses.models.length;
      const r = await chat(`up-${status}`, 'x', { stream });
      expect(r.status).toBe(502);
      expect(r.json.error).toMatchObject({ type: 'server_error', code: 'upstream_error' });
      expect(r.json.error.message).toContain(`HTTP ${status}`);
      expect(statuses.models.slice(before)).toEqual([`status-${status}`]);
    }
  });

  it('a deployment that just failed (a real 500) is tried last for the next 10 s', async () => {
    /** Sends one request; returns the upstream models it tried, in order, and when it was answered. */
    let n = 0;
    const probe = async (): Promise<{ tried: unknown[]; at: number }> => {
      const id = `probe-${n++}`;
      const r = await chat('up-cooling', id);
      expect(r.status).toBe(200);
      expect(r.json.choices[0].message.content).toBe(`echo: ${id}`);
      return { tried: fake.requests.filter((q) => userText(q.body) === id).map((q) => q.body.model), at: Date.now() };
    };
    const sent = Date.now();
    const first = await probe();
    expect(first.tried).toEqual(['fail-500', 'echo']);
    // From then on echo is tried first, until the cool-down is over: fail-500 comes back first.
    const skipped: number[] = [];
    let back: { tried: unknown[]; at: number } | undefined;
    while (Date.now() - sent < 40_000) {
      const p = await probe();
      if (p.tried[0] === 'fail-500') {
        back = p;
        break;
      }
      expect(p.tried).toEqual(['echo']);
      skipped.push(p.at);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(back?.tried).toEqual(['fail-500', 'echo']);
    expect(skipped.length).toBeGreaterThan(0);
    // The failure happened after `sent`, and fail-500 was not tried again within 10 s of it.
    expect(back!.at - sent).toBeGreaterThanOrEqual(10_000);
    // ...nor much longer than that (probes are a few hundred ms apart).
    expect(back!.at - first.at).toBeLessThan(20_000);
  });

  it('RUNNER_MAX_QUEUE requests wait for a runner model; the next one gets 429 queue_full', async () => {
    const out = { text: '' };
    startRunner('single', 'runner-single', 'slow', `127.0.0.1:${grpcPort}`, out, ', concurrency: 1');
    await waitUntil(async () => (await modelIds()).includes('runner-single'), 60_000, 'the runner model', stack.logs);
    const queue = new Queue(BACKENDS.runner.queueName('runner-single'), { connection: { host: '127.0.0.1', port: stack.redis.port }, prefix: REDIS_PREFIX });
    const aborts = [new AbortController(), new AbortController()];
    try {
      /** A streamed request; resolves with its reader once the first bytes arrived. */
      const open = async (a: AbortController): Promise<ReadableStreamDefaultReader<Uint8Array>> => {
        const res = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'runner-single', messages: [{ role: 'user', content: 'x' }], stream: true }),
          signal: a.signal,
        });
        expect(res.status).toBe(200);
        const reader = res.body!.getReader();
        const first = await reader.read();
        expect(first.done).toBe(false);
        return reader;
      };
      // One slot: the first runs, the second waits (RUNNER_MAX_QUEUE=1), seen in the queue.
      await open(aborts[0]);
      const waiting = open(aborts[1]);
      void waiting.catch(() => undefined);
      await waitUntil(async () => (await queue.getJobCounts('active', 'waiting')).waiting === 1, 30_000, 'the second request to wait', stack.logs);
      const full = await chat('runner-single', 'one too many');
      expect(full.status).toBe(429);
      expect(full.json.error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });
      expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // The waiting one was admitted, not refused: it runs once the first goes away.
      aborts[0].abort();
      await waiting;
    } finally {
      for (const a of aborts) a.abort();
      await queue.close();
    }
  });

  it('a runner reconnects with exponential backoff: 0.5 s doubling, with jitter', async () => {
    const port = await freePort();
    const out = { text: '' };
    startRunner('backoff', 'runner-backoff', 'echo', `127.0.0.1:${port}`, out);
    const waits = (): Array<{ t: number; inMs: number }> =>
      out.text
        .split('\n')
        .filter((l) => l.includes('"disconnected from the gateway; reconnecting"'))
        .map((l) => JSON.parse(l.slice(l.indexOf('{'))) as { time: string; inMs: number })
        .map((l) => ({ t: Date.parse(l.time), inMs: l.inMs }));
    // Nothing listens on the port: four failed attempts.
    await waitUntil(async () => waits().length >= 4, 60_000, 'four reconnect attempts', [out.text]);
    const seen = waits().slice(0, 4);
    seen.forEach((w, i) => {
      const backoff = 500 * 2 ** i;
      expect(w.inMs).toBeGreaterThanOrEqual(backoff / 2);
      expect(w.inMs).toBeLessThanOrEqual(backoff);
      // It really waited that long before the next attempt failed.
      if (i > 0) expect(w.t - seen[i - 1].t).toBeGreaterThanOrEqual(seen[i - 1].inMs - 5);
    });
    expect(seen.some((w, i) => w.inMs !== 500 * 2 ** i)).toBe(true);
    // A gateway appears on that port: the runner gets in by itself.
    await stack.addGateway({ RUNNER_GRPC_PORT: String(port) });
    await waitUntil(async () => out.text.includes('"connected to the gateway"'), 60_000, 'the runner to connect', [out.text]);
    await waitUntil(async () => (await modelIds()).includes('runner-backoff'), 30_000, 'the runner model', stack.logs);
    const r = await chat('runner-backoff', 'came back');
    expect(r.status).toBe(200);
    expect(r.json.choices[0].message.content).toBe('echo: came back');
  });
});
