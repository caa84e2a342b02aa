/**
 * Keeps the launcher's child processes running, as a process supervisor would: a child that exits
 * on its own is started again after a backoff (1 s doubling to 30 s by default, back to 1 s once a
 * child has stayed up for a minute), while the other children keep running. A child that keeps
 * crashing soon after each start is given up on, with a clear log line, after `maxRestarts`.
 */
import type { ChildProcess } from 'node:child_process';
import { stopProcess, type Logger } from '@switchyard/runtime';

export interface SupervisedChild {
  /** For logs: "gateway", "llm-worker", ... */
  name: string;
  start(): ChildProcess;
}

export interface SupervisorOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** A child up this long counts as healthy: its next crash restarts after the initial delay again. */
  healthyAfterMs: number;
  /** Restarts in a row, each after a short run, before giving up on the child. */
  maxRestarts: number;
  /** Grace for a child to drain on stop before SIGKILL. */
  stopGraceMs: number;
}

export const DEFAULT_SUPERVISOR_OPTIONS: SupervisorOptions = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  healthyAfterMs: 60_000,
  maxRestarts: 10,
  // The apps drain for up to 30 s themselves; SIGKILL only past that.
  stopGraceMs: 35_000,
};

interface Entry {
  spec: SupervisedChild;
  process: ChildProcess;
  startedAt: number;
  /** Restarts in a row after short runs. */
  restarts: number;
  timer?: NodeJS.Timeout;
}

export class ChildSupervisor {
  private readonly entries: Entry[] = [];
  private stopping = false;

  constructor(
    private readonly log: Logger,
    /** Called once when a child is given up on (the launcher then stops the service). */
    private readonly onGiveUp: (name: string) => void,
    private readonly options: SupervisorOptions = DEFAULT_SUPERVISOR_OPTIONS,
  ) {}

  add(spec: SupervisedChild): void {
    const entry: Entry = { spec, process: spec.start(), startedAt: Date.now(), restarts: 0 };
    this.entries.push(entry);
    this.watch(entry);
  }

  /** The running process of each child, by name (for tests and logs). */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.entries.map((e) => [e.spec.name, e.process.pid]));
  }

  private watch(entry: Entry): void {
    const child = entry.process;
    this.log.info('child started', { child: entry.spec.name, pid: child.pid });
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      const upMs = Date.now() - entry.startedAt;
      if (upMs >= this.options.healthyAfterMs) entry.restarts = 0;
      if (entry.restarts >= this.options.maxRestarts) {
        this.log.error('child keeps crashing; giving up on it', { child: entry.spec.name, pid: child.pid, code, signal, restarts: entry.restarts });
        this.onGiveUp(entry.spec.name);
        return;
      }
      const delayMs = Math.min(this.options.maxDelayMs, this.options.initialDelayMs * 2 ** entry.restarts);
      entry.restarts++;
      this.log.error('child exited; restarting it', { child: entry.spec.name, pid: child.pid, code, signal, upMs, restartInMs: delayMs, restart: entry.restarts });
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        if (this.stopping) return;
        entry.process = entry.spec.start();
        entry.startedAt = Date.now();
        this.watch(entry);
      }, delayMs);
    });
  }

  /** Stops every child (SIGTERM, then SIGKILL after the grace) and restarts none. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const e of this.entries) clearTimeout(e.timer);
    await Promise.all(this.entries.map((e) => stopProcess(e.process, this.options.stopGraceMs)));
  }
}
