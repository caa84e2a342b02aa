/**
 * The queue dashboard (bull-board at /admin/queues), end to end on a real gateway and Redis: the
 * login form and its cookie, the admin key required (user and wrong keys refused), the queues shown
 * being the models' queues, read-only by default (bull-board's write API refused, the job left in
 * place) and writable on a gateway started with QUEUE_DASHBOARD_READ_ONLY=false, and open on a
 * gateway without keys. No worker: a job is put on a model's queue with BullMQ directly.
 */
import { Queue } from 'bullmq';
import { REDIS_PREFIX, llmQueueName } from '@switchyard/contracts';
import { expectOpenAIError } from './support/errors';
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

const USER = 'sk-dash-user-0000001';
const ADMIN = 'sk-dash-admin-000001';

let stack: Stack;
let queue: Queue;
let jobId: string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bull-board and error bodies
type Json = any;

interface Answer {
  status: number;
  json: Json;
  text: string;
  headers: Headers;
}

async function call(base: string, method: string, path: string, options: { cookie?: string; bearer?: string; body?: object; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.body ? { 'content-type': 'application/json' } : {}),
      ...(options.cookie ? { cookie: options.cookie } : {}),
      ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
      ...options.headers,
    },
    body: options.body ? JSON.stringify(options.body) : undefined,
    redirect: 'manual',
  });
  const text = await res.text();
  let json: Json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // HTML pages
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Logs in with the key and returns the `name=value` to send back as Cookie. */
async function login(base: string, key: string): Promise<string> {
  const res = await call(base, 'POST', '/admin/queues/login', { body: { key } });
  expect(res.status).toBe(204);
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';')[0];
}

beforeAll(async () => {
  const tiny = await tinyModel('tiny-chat');
  stack = await startStack({
    models: [
      { name: 'tiny-chat', path: tiny },
      { name: 'spare', path: tiny, preload: false, auto_load: false },
    ],
    noWorker: true,
    gatewayEnv: { API_KEYS: USER, ADMIN_KEYS: ADMIN },
  });
  // A job nobody consumes (no worker), so it stays waiting for the dashboard to show and act on.
  queue = new Queue(llmQueueName('spare'), { connection: { host: '127.0.0.1', port: stack.redis.port }, prefix: REDIS_PREFIX });
  const job = await queue.add('chat', { probe: true });
  jobId = job.id!;
});

afterAll(async () => {
  await queue?.close();
  await stack?.stop();
});

describe('queue dashboard login (e2e)', () => {
  it('answers the login form with 401 to a browser without the cookie, and OpenAI 401 to the API', async () => {
    const page = await call(stack.baseUrl, 'GET', '/admin/queues', { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(page.status).toBe(401);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('<form id="login"');
    expect(page.text).toContain('type="password"');
    expect(page.text).not.toContain('bull'); // none of the board before logging in

    const api = await call(stack.baseUrl, 'GET', '/admin/queues/api/queues');
    expectOpenAIError(api, 401, null);
    expect(api.json.error.code).toBe('missing_api_key');
  });

  it('refuses a wrong key and a user key at the login, setting no cookie', async () => {
    for (const key of ['sk-not-a-key-at-all', USER]) {
      const res = await call(stack.baseUrl, 'POST', '/admin/queues/login', { body: { key } });
      expectOpenAIError(res, 401, null);
      expect(res.json.error.code).toBe('invalid_api_key');
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    const empty = await call(stack.baseUrl, 'POST', '/admin/queues/login', { body: {} });
    expectOpenAIError(empty, 400, 'key');
    // A form post (no preflight cross-site) is refused by the gateway's JSON-only rule.
    const form = await fetch(`${stack.baseUrl}/admin/queues/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${ADMIN}` });
    expect(form.status).toBe(415);
    expect(form.headers.get('set-cookie')).toBeNull();
  });

  it('sets an HttpOnly, SameSite=Strict cookie limited to /admin/queues, Secure over https', async () => {
    const res = await call(stack.baseUrl, 'POST', '/admin/queues/login', { body: { key: ADMIN } });
    expect(res.status).toBe(204);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^switchyard_admin=/);
    expect(cookie).toMatch(/; Path=\/admin\/queues(;|$)/);
    expect(cookie).toMatch(/; HttpOnly(;|$)/);
    expect(cookie).toMatch(/; SameSite=Strict(;|$)/);
    expect(cookie).not.toMatch(/Secure/);
    expect(res.headers.get('location')).toBeNull(); // the key is never put in a URL

    const https = await call(stack.baseUrl, 'POST', '/admin/queues/login', { body: { key: ADMIN }, headers: { 'x-forwarded-proto': 'https' } });
    expect(https.headers.get('set-cookie')).toMatch(/; Secure(;|$)/);

    const out = await call(stack.baseUrl, 'POST', '/admin/queues/logout', { cookie: cookie.split(';')[0] });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^switchyard_admin=;.*Expires=Thu, 01 Jan 1970/);
  });

  it('renders the board, its assets and its API with the admin cookie (or the admin key as Bearer)', async () => {
    const cookie = await login(stack.baseUrl, ADMIN);
    const page = await call(stack.baseUrl, 'GET', '/admin/queues', { cookie });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<title>Switchyard queues</title>');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.text).toContain('<base href="/admin/queues/"');
    const script = /src="([^"]+\.js)"/.exec(page.text)?.[1];
    expect(script).toMatch(/^static\//);
    const asset = await fetch(`${stack.baseUrl}/admin/queues/${script}`, { headers: { cookie } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    // A deep link of the board's own router renders too.
    expect((await call(stack.baseUrl, 'GET', `/admin/queues/queue/${llmQueueName('spare')}`, { cookie })).status).toBe(200);

    expect((await call(stack.baseUrl, 'GET', '/admin/queues/api/queues', { bearer: ADMIN })).status).toBe(200);
    expectOpenAIError(await call(stack.baseUrl, 'GET', '/admin/queues/api/queues', { bearer: USER }), 401, null);
    const forged = await call(stack.baseUrl, 'GET', '/admin/queues', { cookie: `switchyard_admin=${USER}`, headers: { accept: 'text/html' } });
    expect(forged.status).toBe(401);
    expect(forged.text).toContain('log in again');
  });
});

describe('queue dashboard contents (e2e)', () => {
  it("shows exactly the models' queues, read-only, with the waiting job", async () => {
    const cookie = await login(stack.baseUrl, ADMIN);
    const res = await call(stack.baseUrl, 'GET', `/admin/queues/api/queues?activeQueue=${llmQueueName('spare')}&status=waiting&page=1`, { cookie });
    expect(res.status).toBe(200);
    const queues = res.json.queues as Array<{ name: string; displayName: string; readOnlyMode: boolean; counts: Record<string, number>; jobs: Array<{ id: string }> }>;
    expect(queues.map((q) => q.name).sort()).toEqual([llmQueueName('spare'), llmQueueName('tiny-chat')].sort());
    expect(queues.map((q) => q.displayName).sort()).toEqual(['spare', 'tiny-chat']);
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    const spare = queues.find((q) => q.name === llmQueueName('spare'))!;
    expect(spare.counts.waiting).toBe(1);
    expect(spare.jobs.map((j) => j.id)).toEqual([jobId]);
  });

  it('refuses the write API by default and leaves the queue as it was', async () => {
    const cookie = await login(stack.baseUrl, ADMIN);
    const q = llmQueueName('spare');
    for (const path of [`/api/queues/${q}/retry/failed`, `/api/queues/${q}/clean/waiting`, `/api/queues/${q}/${jobId}/clean`, `/api/queues/${q}/pause`, '/api/queues/pause']) {
      const res = await call(stack.baseUrl, 'PUT', `/admin/queues${path}`, { cookie });
      expectOpenAIError(res, 405, null);
      expect(res.json.error.code).toBe('dashboard_read_only');
    }
    expect(await queue.isPaused()).toBe(false);
    expect(await queue.getJob(jobId)).toBeDefined();
  });

  it('acts on jobs on a gateway started with QUEUE_DASHBOARD_READ_ONLY=false', async () => {
    const base = await stack.addGateway({ QUEUE_DASHBOARD_READ_ONLY: 'false' });
    const cookie = await login(base, ADMIN);
    const list = await call(base, 'GET', '/admin/queues/api/queues', { cookie });
    expect((list.json.queues as Array<{ readOnlyMode: boolean }>).every((q) => !q.readOnlyMode)).toBe(true);
    // Still behind the admin key.
    expectOpenAIError(await call(base, 'PUT', `/admin/queues/api/queues/${llmQueueName('spare')}/${jobId}/clean`), 401, null);
    expect(await queue.getJob(jobId)).toBeDefined();

    const clean = await call(base, 'PUT', `/admin/queues/api/queues/${llmQueueName('spare')}/${jobId}/clean`, { cookie });
    expect(clean.status).toBeLessThan(300);
    expect(await queue.getJob(jobId)).toBeUndefined();
  });

  it('is open, like the rest of the API, on a gateway with no keys', async () => {
    const base = await stack.addGateway({ API_KEYS: '', ADMIN_KEYS: '' });
    const page = await call(base, 'GET', '/admin/queues', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<title>Switchyard queues</title>');
    const list = await call(base, 'GET', '/admin/queues/api/queues');
    expect(list.status).toBe(200);
    expect(list.json.queues).toHaveLength(2);
  });
});
