/**
 * Integration test of scripts/validate-deploy.sh (`npm run validate:deploy`): it passes on the
 * repository's own Dockerfile, docker-compose.yml, .dockerignore, .env.example and models file, and
 * on copies broken one way each it exits 1 with a FAIL line naming the fault. The copies live in a
 * temporary folder; the folders the checks only read (apps/, libs/, k8s/, ...) are linked.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { itIf } from './support/skip';

jest.setTimeout(120_000);

const REPO = resolve(__dirname, '..');
const SCRIPT = join(REPO, 'scripts/validate-deploy.sh');
/** The files the cases edit: copied. */
const COPIED = ['Dockerfile', 'docker-compose.yml', '.dockerignore', '.env.example', 'models.docker.yaml', '.npmrc', 'tsconfig.json', 'tsconfig.build.json'];
/** What the checks only read: linked. */
const LINKED = ['package.json', 'package-lock.json', 'apps', 'libs', 'tools', 'bench', 'k8s'];

function installed(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const composeInstalled = installed('docker', ['compose', 'version']) || installed('docker-compose', ['version']);

interface Result {
  code: number;
  out: string;
  fails: string[];
}

function validate(root: string): Promise<Result> {
  // The caller's compose settings must not leak into what is validated.
  const env = { ...process.env };
  delete env.COMPOSE_PROFILES;
  delete env.COMPOSE_FILE;
  delete env.DEPLOY_ROOT;
  return new Promise((done) => {
    execFile('bash', [SCRIPT, root], { env, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`;
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, out, fails: out.split('\n').filter((l) => l.startsWith('FAIL')) });
    });
  });
}

let dirs: string[] = [];

/** A copy of the deployment files with `edits` applied: [file, text found there, replacement]. */
function brokenCopy(...edits: [string, string | RegExp, string][]): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-deploy-files-'));
  dirs.push(dir);
  for (const f of COPIED) copyFileSync(join(REPO, f), join(dir, f));
  for (const f of LINKED) if (existsSync(join(REPO, f))) symlinkSync(join(REPO, f), join(dir, f));
  for (const [file, from, to] of edits) {
    const path = join(dir, file);
    const text = readFileSync(path, 'utf8');
    // A case whose text is gone from the real file would pass for the wrong reason.
    if (typeof from === 'string' ? !text.includes(from) : !from.test(text)) throw new Error(`${file} no longer contains ${String(from)}: update this case`);
    writeFileSync(path, text.replace(from, to));
  }
  return dir;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** The run failed, and a FAIL line matches `line`. */
function expectFailure(r: Result, line: RegExp): void {
  expect({ code: r.code, matched: r.fails.some((l) => line.test(l)) }).toEqual({ code: 1, matched: true });
}

describe('scripts/validate-deploy.sh', () => {
  const it_ = itIf(composeInstalled, 'docker-compose (or docker compose): apt-get install docker-compose');

  it_('passes on the repository files, and on an unchanged copy of them', async () => {
    const real = await validate(REPO);
    expect({ code: real.code, fails: real.fails }).toEqual({ code: 0, fails: [] });
    // Every image target was checked, and compose was validated with its optional profiles too.
    for (const t of ['gateway', 'llm-worker', 'llm-worker-cuda', 'onnx-worker', 'onnx-worker-cuda', 'upstream-worker', 'runner']) {
      expect(real.out).toContain(`ok    Dockerfile target ${t}: USER node`);
    }
    expect(real.out).toMatch(/ok {4}.*config \(COMPOSE_PROFILES=gpu,runner\)/);
    const copy = await validate(brokenCopy());
    expect({ code: copy.code, fails: copy.fails }).toEqual({ code: 0, fails: [] });
  });

  it_('fails when a target the compose file builds is missing from the Dockerfile', async () => {
    const r = await validate(brokenCopy(['Dockerfile', /AS llm-worker-cuda$/m, 'AS llm-worker-gpu']));
    expectFailure(r, /no stage "FROM \.\.\. AS llm-worker-cuda"/);
  });

  it_('fails when a final stage has no USER', async () => {
    const r = await validate(brokenCopy(['Dockerfile', /(FROM runtime AS gateway[\s\S]*?)USER node\n/, '$1']));
    expectFailure(r, /Dockerfile target gateway: no USER node/);
    expect(r.fails).toHaveLength(1);
  });

  it_('fails on a shell-form CMD and on a CMD whose entry has no source', async () => {
    const shell = await validate(brokenCopy(['Dockerfile', 'CMD ["node", "dist/apps/runner/src/main.js"]', 'CMD node dist/apps/runner/src/main.js']));
    expectFailure(shell, /target runner: CMD is not in exec form/);
    const missing = await validate(brokenCopy(['Dockerfile', 'CMD ["node", "dist/apps/gateway/src/main.js"]', 'CMD ["node", "dist/apps/gateway/src/server.js"]']));
    expectFailure(missing, /target gateway: CMD entry dist\/apps\/gateway\/src\/server\.js has no TypeScript source/);
  });

  it_('fails on a base image that is not Node 22 or is musl', async () => {
    const old = await validate(brokenCopy(['Dockerfile', 'ARG NODE_IMAGE=node:22-bookworm-slim', 'ARG NODE_IMAGE=node:20-bookworm-slim']));
    expectFailure(old, /target gateway: base node:20-bookworm-slim is not node:22/);
    const musl = await validate(brokenCopy(['Dockerfile', 'ARG NODE_IMAGE=node:22-bookworm-slim', 'ARG NODE_IMAGE=node:22-alpine']));
    expectFailure(musl, /based on node:22-alpine: node-llama-cpp's prebuilts need glibc/);
  });

  it_('fails when a COPY source is excluded by .dockerignore', async () => {
    const r = await validate(brokenCopy(['.dockerignore', '.gitignore\n', '.gitignore\n.npmrc\n']));
    expectFailure(r, /COPY source "\.npmrc" .* is excluded by \.dockerignore/);
  });

  it_('fails on a compose file with an unknown key', async () => {
    const r = await validate(brokenCopy(['docker-compose.yml', '  gateway:\n', '  gateway:\n    restartt: always\n']));
    expectFailure(r, /config -q: docker-compose\.yml is not a valid compose file/);
    expect(r.out).toMatch(/restartt/);
  });

  it_('fails on a compose service without a health check, and on Redis without AOF', async () => {
    const hc = await validate(brokenCopy(['docker-compose.yml', / {4}healthcheck:\n {6}test: \["CMD-SHELL", "redis-cli ping[^\n]*\n( {6}[^\n]*\n)*/, '']));
    expectFailure(hc, /service redis has no healthcheck/);
    const aof = await validate(brokenCopy(['docker-compose.yml', '"--appendonly", "yes"', '"--appendonly", "no"']));
    expectFailure(aof, /Redis without --appendonly yes/);
  });

  it_('fails when a variable the compose file reads is missing from .env.example', async () => {
    const bare = await validate(brokenCopy(['.env.example', /^# WORKER_WAIT_MS=.*\n/m, '']));
    expectFailure(bare, /\.env\.example: WORKER_WAIT_MS \(passed through by docker-compose\.yml\) is not listed/);
    const interpolated = await validate(brokenCopy(['.env.example', /^# GATEWAY_PORT=.*\n/m, '']));
    expectFailure(interpolated, /\.env\.example: GATEWAY_PORT \(interpolated by docker-compose\.yml\) is not listed/);
  });

  it_('fails on a GPU device count that docker-compose 1.x would refuse at up', async () => {
    const r = await validate(brokenCopy(['docker-compose.yml', /count: 1\n/, 'count: "${LLM_GPU_COUNT:-1}"\n'], ['.env.example', '# LLM_GPU_WORKER_REPLICAS=1\n', '# LLM_GPU_WORKER_REPLICAS=1\n# LLM_GPU_COUNT=1\n']));
    expectFailure(r, /service llm-worker-gpu: device count "1" is not an integer/);
  });
});
