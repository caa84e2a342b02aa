/**
 * CPU time per process (user + system) and for the whole machine, from /proc. The bench uses it to
 * show that the side not being measured is idle, to see where the gateway path spends its CPU, and to
 * notice (and redo) phases during which some other program on the machine was busy.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * CPU milliseconds used so far by a process (all its threads), or only by its main thread (where
 * Node runs JavaScript), or NaN if it cannot be read.
 */
export function processCpuMs(pid: number | undefined, mainThreadOnly = false): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the line.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** Busy (non-idle, non-iowait) CPU milliseconds of the whole machine so far, or NaN. */
export function systemBusyMs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (busy * 1000) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/**
 * Named processes to account for. A name ending in MAIN_THREAD (e.g. `worker/js`) reads that
 * process's main thread only: JavaScript work, which runs between two tokens, not alongside llama.cpp.
 */
export type Processes = Record<string, number | undefined>;
export const MAIN_THREAD = '/js';

function isThread(name: string): boolean {
  return name.endsWith(MAIN_THREAD);
}

export interface CpuSpan {
  wallMs: number;
  /** CPU ms per named process. */
  ms: Record<string, number>;
  /** CPU ms used on the machine by anything other than the named processes. */
  foreignMs: number;
}

function snapshot(processes: Processes): { ms: Record<string, number>; system: number } {
  const ms: Record<string, number> = {};
  for (const [name, pid] of Object.entries(processes)) ms[name] = processCpuMs(pid, isThread(name));
  return { ms, system: systemBusyMs() };
}

/** Runs `work` and reports the CPU each process (and everything else) used meanwhile. */
export async function measureCpu<T>(processes: Processes, work: () => Promise<T>): Promise<{ value: T; span: CpuSpan }> {
  const before = snapshot(processes);
  const t0 = performance.now();
  const value = await work();
  const wallMs = performance.now() - t0;
  const after = snapshot(processes);
  const ms: Record<string, number> = {};
  let ours = 0;
  for (const name of Object.keys(processes)) {
    ms[name] = after.ms[name] - before.ms[name];
    if (Number.isFinite(ms[name]) && !isThread(name)) ours += ms[name];
  }
  return { value, span: { wallMs, ms, foreignMs: Math.max(0, after.system - before.system - ours) } };
}

/** Sums the spans of accepted phases. */
export class CpuLedger {
  readonly ms: Record<string, number> = {};
  wallMs = 0;
  foreignMs = 0;

  add(span: CpuSpan): void {
    this.wallMs += span.wallMs;
    this.foreignMs += span.foreignMs;
    for (const [name, v] of Object.entries(span.ms)) this.ms[name] = (this.ms[name] ?? 0) + v;
  }
}

/**
 * Waits (up to `timeoutMs`) until programs other than ours use less than `maxShare` of one core over
 * a short window, so a phase does not start in the middle of someone else's build. Returns whether
 * the machine got quiet.
 */
export async function waitForQuiet(processes: Processes, maxShare: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { span } = await measureCpu(processes, () => new Promise<void>((r) => setTimeout(r, 500)));
    if (span.foreignMs <= maxShare * span.wallMs) return true;
    if (Date.now() > deadline) return false;
  }
}
