/**
 * What `npm start` promises (README, "Two commands"): the launcher on the shipped models.yaml starts
 * its own private redis-server, generates the demo models, serves chat and embeddings, and on
 * SIGTERM stops every process it started, redis-server included. Runs tools/smoke-start.ts in its
 * `--launcher` form (CI also runs it once through `npm start` itself).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '@switchyard/runtime';
import { ROOT } from './support/stack';

jest.setTimeout(300_000);

describe('npm start on the shipped models.yaml (e2e)', () => {
  it('serves chat and embeddings from its demo models on a private redis-server, then stops cleanly', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'dist/tools/smoke-start.js'), '--launcher'], {
      cwd: ROOT,
      env: { ...process.env, SMOKE_PORT: String(port), REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    for (const s of [child.stdout, child.stderr]) s.on('data', (d: Buffer) => output.push(d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const text = output.join('');
    if (code !== 0) throw new Error(`the smoke test failed (exit ${code}):\n${text.slice(-4000)}`);
    expect(text).toMatch(/smoke: npm start served chat and embeddings .*every process of it and its private redis-server exited/);
  });
});
