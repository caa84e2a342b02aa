// `npm start` smoke test, run by .ci/run as `node dist/tools/smoke-start.js` (after `npm test` built
// it): the README's first command on the shipped models.yaml (the launcher, its private redis-server, the demo models it generates), one chat and one
// embeddings request, then SIGTERM and a clean exit. Fails with one line saying what went wrong.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';

const PORT = process.env.SMOKE_PORT ?? '18080';
const BASE = `http://127.0.0.1:${PORT}`;
const READY_MS = 600_000; // the first start builds and generates every demo model
const EXIT_MS = 60_000;

// Without REDIS_URL: the launcher's own private redis-server.
const env = { ...process.env };
delete env.REDIS_URL;
// Its own process group, stopped as a terminal or a service manager stops it: SIGTERM to the group
// (npm itself exits on the signal at once; the launcher under it shuts the service down).
// `--launcher`: the launcher `npm start` runs, without npm's build first (the e2e test's form: a
// build there would rewrite dist/ under the suites running beside it).
const ROOT = resolve(__dirname, '../..');
const [command, args] = process.argv.includes('--launcher') ? [process.execPath, [join(ROOT, 'dist/apps/launcher/src/main.js')]] : ['npm', ['start', '--silent']];
const child = spawn(command, args, { cwd: ROOT, env: { ...env, PORT, HOST: '127.0.0.1', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
const output: string[] = [];
for (const s of [child.stdout, child.stderr]) s.on('data', (d) => output.push(String(d)));
interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}
let exited: Exit | null = null;
const exit = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve((exited = { code, signal }))));

/** Whether any process of npm start's group (npm, the launcher, redis-server, the apps) is left. */
function groupAlive(): boolean {
  try {
    process.kill(-child.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

function fail(message: string): never {
  process.stderr.write(`${output.join('').slice(-6000)}\nsmoke: FAILED: ${message}\n`);
  if (groupAlive()) process.kill(-child.pid!, 'SIGKILL');
  process.exit(1);
}

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the smoke test reads a few fields of OpenAI's shapes
  json: any;
}

async function post(path: string, body: object): Promise<Answer> {
  const res = await fetch(`${BASE}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function untilOk(what: string, call: () => Promise<Answer>): Promise<any> {
  const deadline = Date.now() + READY_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited !== null) fail(`npm start exited (${JSON.stringify(exited)}) before ${what} answered`);
    try {
      const r = await call();
      if (r.status === 200) return r.json;
      last = `${r.status} ${JSON.stringify(r.json).slice(0, 300)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  fail(`${what} did not answer 200 within ${READY_MS / 1000} s (last: ${last})`);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const chat = await untilOk('chat', () => post('/v1/chat/completions', { model: 'tiny-chat', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 8, temperature: 0 }));
  if (chat.object !== 'chat.completion' || chat.choices?.[0]?.message?.role !== 'assistant' || chat.usage?.completion_tokens < 1) fail(`chat answered ${JSON.stringify(chat)}`);
  const emb = await untilOk('embeddings', () => post('/v1/embeddings', { model: 'tiny-embed', input: ['hello', 'world'] }));
  if (emb.object !== 'list' || emb.data?.length !== 2 || !(emb.data[0].embedding?.length > 0) || emb.data[0].embedding.length !== emb.data[1].embedding.length) fail(`embeddings answered ${JSON.stringify(emb).slice(0, 300)}`);
  const readyS = ((Date.now() - t0) / 1000).toFixed(1);

  process.kill(-child.pid!, 'SIGTERM');
  await exit;
  const deadline = Date.now() + EXIT_MS;
  while (groupAlive()) {
    if (Date.now() > deadline) fail(`processes of npm start were still running ${EXIT_MS / 1000} s after SIGTERM`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const log = output.join('');
  if (/"level":"(error|fatal)"/.test(log)) fail('errors were logged while it ran or stopped');
  // The private redis-server runs in a process group of its own: the launcher must have stopped it.
  const redisPort = /"url":"redis:\/\/127\.0\.0\.1:(\d+)"[^\n]*"msg":"started a private redis-server"/.exec(log)?.[1];
  if (redisPort === undefined) fail('the launcher did not say it started a private redis-server');
  const redisUp = await new Promise<boolean>((resolve) => {
    const socket = connect(Number(redisPort), '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
  if (redisUp) fail(`the private redis-server (port ${redisPort}) is still running after the launcher exited`);
  process.stdout.write(`smoke: npm start served chat and embeddings (${readyS} s to ready); on SIGTERM every process of it and its private redis-server exited within ${EXIT_MS / 1000} s\n`);
}

void main();
