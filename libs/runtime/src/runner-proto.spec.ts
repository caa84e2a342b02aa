/**
 * The committed gRPC types (./generated) are what `npm run gen:proto` makes from the proto today:
 * a proto change without regenerating fails here, not at a runner's first message.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const COMMITTED = join(ROOT, 'libs/runtime/src/generated');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('generated runner protocol types', () => {
  it('match a fresh run of the generator', () => {
    const out = mkdtempSync(join(tmpdir(), 'switchyard-proto-'));
    try {
      const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['gen:proto'] as string;
      const args = script.split(' ').slice(1).map((a) => (a === 'libs/runtime/src/generated' ? out : a));
      execFileSync(join(ROOT, 'node_modules/.bin/proto-loader-gen-types'), args, { cwd: ROOT });
      const fresh = files(out).map((f) => relative(out, f)).sort();
      expect(files(COMMITTED).map((f) => relative(COMMITTED, f)).sort()).toEqual(fresh);
      for (const f of fresh) expect([f, readFileSync(join(COMMITTED, f), 'utf8')]).toEqual([f, readFileSync(join(out, f), 'utf8')]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
