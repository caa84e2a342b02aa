/**
 * Running the compiled apps as child processes: used by the launcher (`npm start`), the end-to-end
 * tests and the benchmarks, so all three start and stop the apps the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export type AppName = 'gateway' | 'llm-worker' | 'upstream-worker' | 'runner' | 'onnx-worker';

/** Starts `dist/apps/<app>/src/main.js` under `root`, collecting its output into `logs`, one entry a line. */
export function startApp(root: string, app: AppName, env: Record<string, string>, logs: string[]): ChildProcess {
  const child = spawn(process.execPath, [join(root, `dist/apps/${app}/src/main.js`)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Whole lines, each with its app's name: a chunk can end mid-line, and two streams interleave.
  const collect = (stream: NodeJS.ReadableStream | null): void => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (text: string) => {
      const lines = (rest + text).split('\n');
      rest = lines.pop()!;
      for (const line of lines) logs.push(`[${app}] ${line}\n`);
    });
    stream?.on('end', () => {
      if (rest) logs.push(`[${app}] ${rest}\n`);
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  return child;
}

/** SIGTERM, then SIGKILL if it has not exited after `killAfterMs`. */
export function stopProcess(child: ChildProcess | undefined, killAfterMs = 10_000): Promise<void> {
  return new Promise((done) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return done();
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** Polls `check` every 100 ms until it is true; throws with the collected logs after `ms`. */
export async function waitUntil(check: () => Promise<boolean>, ms: number, what: string, logs: string[] = []): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}\n${logs.join('')}`);
}
