/**
 * A models file with a misspelled key stops `npm start` (the launcher), the gateway and every worker at start with
 * one line naming the key, its model and the key meant, and no stack (issue #10).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/stack';

jest.setTimeout(60_000);

describe('a misspelled models-file key at start', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'switchyard-schema-')), 'models.yaml');
  writeFileSync(file, 'models:\n  - name: qwen\n    path: q.gguf\n    thread: 2\n');

  it.each([
    ['launcher', 'launcher'],
    ['gateway', 'gateway'],
    ['llm-worker', 'llm-worker'],
    ['onnx-worker', 'onnx-worker'],
    ['upstream-worker', 'upstream-worker'],
  ])('stops the %s with one line naming it', (app, prefix) => {
    const run = spawnSync(process.execPath, [join(ROOT, `dist/apps/${app}/src/main.js`)], {
      env: { ...process.env, MODELS_FILE: file, REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    // One JSON log line (every line of every process is JSON), its message naming the key, no stack.
    const lines = run.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({ level: 'fatal', c: prefix, msg: `${file}: models[0] (qwen): unknown key 'thread' (did you mean 'threads'?)` })]);
    expect(lines[0]).not.toHaveProperty('err');
  });
});
