import { spawn } from 'node:child_process';
import { Logger } from '@switchyard/runtime';
import { ChildSupervisor, type SupervisorOptions } from './child-supervisor';

const FAST: SupervisorOptions = { initialDelayMs: 20, maxDelayMs: 80, healthyAfterMs: 60_000, maxRestarts: 3, stopGraceMs: 2_000 };
const log = new Logger('test', 'error');

/** A real node process that runs until killed, or exits with code 1 after `exitAfterMs`. */
function node(exitAfterMs?: number): () => ReturnType<typeof spawn> {
  const script = exitAfterMs === undefined ? 'setInterval(() => {}, 1000)' : `setTimeout(() => process.exit(1), ${exitAfterMs})`;
  return () => spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ChildSupervisor', () => {
  let supervisor: ChildSupervisor | undefined;
  afterEach(async () => {
    await supervisor?.stop();
    supervisor = undefined;
  });

  it('restarts a killed child and leaves the others running', async () => {
    const gaveUp: string[] = [];
    supervisor = new ChildSupervisor(log, (name) => gaveUp.push(name), FAST);
    supervisor.add({ name: 'worker', start: node() });
    supervisor.add({ name: 'gateway', start: node() });
    const before = supervisor.pids();
    process.kill(before.worker!, 'SIGKILL');
    await until(() => supervisor!.pids().worker !== before.worker);
    const after = supervisor.pids();
    expect(after.gateway).toBe(before.gateway);
    expect(() => process.kill(after.worker!, 0)).not.toThrow();
    expect(() => process.kill(before.gateway!, 0)).not.toThrow();
    expect(gaveUp).toEqual([]);
  });

  it('backs off between restarts of a crash-looping child and gives up after maxRestarts', async () => {
    const gaveUp: string[] = [];
    const starts: number[] = [];
    const crash = node(0);
    supervisor = new ChildSupervisor(log, (name) => gaveUp.push(name), FAST);
    supervisor.add({ name: 'bad', start: () => (starts.push(Date.now()), crash()) });
    supervisor.add({ name: 'good', start: node() });
    const good = supervisor.pids().good;
    await until(() => gaveUp.length > 0);
    expect(gaveUp).toEqual(['bad']);
    // The first start and maxRestarts restarts, each waiting at least initialDelay * 2^n (capped).
    expect(starts).toHaveLength(1 + FAST.maxRestarts);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    [20, 40, 80].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 5));
    expect(supervisor.pids().good).toBe(good);
    expect(() => process.kill(good!, 0)).not.toThrow();
  });

  it('restarts nothing once stopped', async () => {
    let starts = 0;
    const make = node();
    supervisor = new ChildSupervisor(log, () => undefined, FAST);
    supervisor.add({ name: 'worker', start: () => (starts++, make()) });
    await supervisor.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(starts).toBe(1);
  });
});
