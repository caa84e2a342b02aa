/**
 * The runner endpoint over TLS, end to end: a gateway serving gRPC with a certificate made at test
 * time (openssl), a runner that trusts it serves through it, and runners that speak plaintext or do
 * not trust the certificate never get in.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { freePort, startApp, stopProcess, waitUntil } from '@switchyard/runtime';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai';
import { ROOT, startStack, type Stack } from './support/stack';

jest.setTimeout(120_000);

const TOKEN = 'rt-tls-token-51';

describe('runner over TLS (e2e)', () => {
  let fake: FakeOpenAI;
  let stack: Stack;
  let dir: string;
  let base: Record<string, string>;
  const runners: ChildProcess[] = [];
  const plainLogs: string[] = [];
  const untrustingLogs: string[] = [];
  const secureLogs: string[] = [];
  const logs = (): string[] => [...stack.logs, ...plainLogs, ...untrustingLogs, ...secureLogs];
  /** waitUntil, failing with every process's log as it is at the deadline. */
  const waitFor = async (check: () => Promise<boolean>, ms: number, what: string): Promise<void> => {
    await waitUntil(check, ms, what).catch((err: Error) => {
      throw new Error(`${err.message}${logs().join('')}`);
    });
  };
  /** How many times a runner's gRPC stream to the gateway failed (it logs each, then retries). */
  const failures = (runnerLogs: string[]): string[] => runnerLogs.join('').split('\n').filter((l) => l.includes('"msg":"gateway stream failed"'));

  const modelIds = async (): Promise<string[]> => ((await (await fetch(`${stack.baseUrl}/v1/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    dir = mkdtempSync(join(tmpdir(), 'switchyard-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const grpcPort = await freePort();
    stack = await startStack({
      models: [],
      noWorker: true,
      gatewayEnv: { RUNNER_GRPC_PORT: String(grpcPort), RUNNER_GRPC_HOST: '127.0.0.1', RUNNER_TOKENS: TOKEN, RUNNER_TLS_CERT: join(dir, 'cert.pem'), RUNNER_TLS_KEY: join(dir, 'key.pem'), LOG_LEVEL: 'info' },
    });
    const models = (name: string): string => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, `models:\n  - { name: ${name}, backend: upstream, base_url: "${fake.url}", upstream_model: echo }\n`);
      return file;
    };
    base = { RUNNER_GATEWAY: `127.0.0.1:${grpcPort}`, RUNNER_TOKEN: TOKEN, LOG_LEVEL: 'info' };
    runners.push(startApp(ROOT, 'runner', { ...base, RUNNER_NAME: 'plain', RUNNER_MODELS_FILE: models('plain-model') }, plainLogs));
    runners.push(startApp(ROOT, 'runner', { ...base, RUNNER_NAME: 'untrusting', RUNNER_TLS: 'true', RUNNER_MODELS_FILE: models('untrusting-model') }, untrustingLogs));
    // This one is configured by flags (one model of a local OpenAI-compatible server), as a user would.
    const secure = spawn(
      process.execPath,
      [join(ROOT, 'dist/apps/runner/src/main.js'), '--gateway', base.RUNNER_GATEWAY, '--tls', '--tls-ca', join(dir, 'cert.pem'), '--name', 'secure', '--openai-url', fake.url, '--model', 'secure-model', '--upstream-model', 'echo'],
      { env: { ...process.env, RUNNER_TOKEN: TOKEN, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    secure.stdout.on('data', (b: Buffer) => secureLogs.push(`[secure] ${b.toString()}`));
    secure.stderr.on('data', (b: Buffer) => secureLogs.push(`[secure] ${b.toString()}`));
    runners.push(secure);
  });
  afterAll(async () => {
    await Promise.all(runners.map((r) => stopProcess(r)));
    await stack?.stop();
    await fake?.close();
  });

  it('serves through a runner that trusts the certificate', async () => {
    await waitFor(async () => (await modelIds()).includes('secure-model'), 60_000, 'the TLS runner');
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'secure-model', messages: [{ role: 'user', content: 'over tls' }] });
    expect(res.choices[0].message.content).toBe('echo: over tls');
  });

  it('keeps out a plaintext runner and one that does not trust the certificate (they keep retrying)', async () => {
    // A runner the gateway takes is seen: the secure one, through the same endpoint...
    await waitFor(async () => (await modelIds()).includes('secure-model'), 60_000, 'the TLS runner');
    // ...and each of the other two has dialled it three times and failed each time (not merely not
    // started yet): the plaintext one at the handshake, the untrusting one at the certificate.
    // (A runner that got in, or exited, stops failing: that ends the wait too, and fails below.)
    const connected = (runnerLogs: string[]): boolean => runnerLogs.join('').includes('"msg":"connected to the gateway"');
    const settled = (runner: ChildProcess, runnerLogs: string[]): boolean => runner.exitCode !== null || connected(runnerLogs) || failures(runnerLogs).length >= 3;
    await waitFor(async () => settled(runners[0], plainLogs) && settled(runners[1], untrustingLogs), 60_000, 'three failed attempts of each bad runner');
    if (runners[0].exitCode !== null || runners[1].exitCode !== null) {
      throw new Error(`a runner exited (plain: ${runners[0].exitCode}, untrusting: ${runners[1].exitCode}) instead of retrying:\n${logs().join('')}`);
    }
    expect({ plain: connected(plainLogs), untrusting: connected(untrustingLogs) }).toEqual({ plain: false, untrusting: false });
    for (const line of [...failures(plainLogs), ...failures(untrustingLogs)]) expect(line).toContain('"code":14'); // UNAVAILABLE
    for (const line of failures(untrustingLogs)) expect(line).toMatch(/self[- ]signed certificate/);
    // The gateway accepted the secure runner and no other, nor even read another's hello (no refusal
    // logged); the others' models never appeared.
    const gatewayLines = stack.logs.join('').split('\n');
    const accepted = gatewayLines.filter((l) => l.includes('"msg":"runner connected"'));
    expect(accepted.length).toBeGreaterThan(0);
    for (const line of accepted) expect(line).toContain('"runner":"runner-secure-');
    expect(gatewayLines.filter((l) => l.includes('runner refused'))).toEqual([]);
    const ids = await modelIds();
    expect(ids).toContain('secure-model');
    expect(ids).not.toContain('plain-model');
    expect(ids).not.toContain('untrusting-model');
    // Still retrying.
    expect(plainLogs.join('')).toContain('reconnecting');
    expect(untrustingLogs.join('')).toContain('reconnecting');
  });
});
