/**
 * Receives one job's events in order. Subscribes before the job is enqueued; events arrive by
 * PUBLISH, and any gap in sequence numbers (or silence) is filled from the job's replay stream.
 */
import { Injectable } from '@nestjs/common';
import { jobEventsChannel, jobEventsStream, type JobEvent } from '@switchyard/contracts';
import { RedisConnections } from './redis-connections';
import { RedisSubscriptions, type Unlisten } from './redis-subscriptions';

/**
 * A gap the replay stream cannot fill either was lost with a restarted Redis (events it had taken
 * but neither delivered nor kept). Past this the reader moves on rather than wait for ever.
 */
const GAP_LIMIT_MS = 5000;
const GAP_RETRY_MS = 250;

export class JobEventReader {
  private expected = 0;
  private readonly buffer = new Map<number, JobEvent>();
  private wake: (() => void) | undefined;
  private gapSince: number | undefined;

  constructor(
    private readonly connections: RedisConnections,
    readonly jobId: string,
    private readonly release: () => Promise<void>,
    private readonly gapLimitMs = GAP_LIMIT_MS,
  ) {}

  /** Makes a pending `next()` return at once (the caller re-checks its abort signal). */
  interrupt(): void {
    this.wake?.();
  }

  /** Called by the subscriber for each live message. */
  push(raw: string): void {
    let event: JobEvent;
    try {
      event = JSON.parse(raw) as JobEvent;
    } catch {
      return;
    }
    if (event.seq >= this.expected) this.buffer.set(event.seq, event);
    this.wake?.();
  }

  /**
   * The next event in sequence, or undefined when none came within `idleMs` (the caller decides
   * whether silence means trouble). Gaps are filled from the replay stream.
   */
  async next(idleMs: number): Promise<JobEvent | undefined> {
    const ready = this.take();
    if (ready) return ready;
    if (this.buffer.size > 0) {
      await this.fill();
      const filled = this.take();
      if (filled) return filled;
      this.gapSince ??= Date.now();
      if (Date.now() - this.gapSince < this.gapLimitMs) {
        // Look again shortly, without spinning on Redis.
        await new Promise((r) => setTimeout(r, Math.min(GAP_RETRY_MS, idleMs)));
        return undefined;
      }
      this.expected = Math.min(...this.buffer.keys());
      return this.take();
    }
    const woke = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), idleMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    this.wake = undefined;
    if (woke) return this.take();
    // Silence: a message may have been lost (e.g. the subscriber reconnected); check the log.
    await this.fill();
    return this.take();
  }

  private take(): JobEvent | undefined {
    const e = this.buffer.get(this.expected);
    if (!e) return undefined;
    this.buffer.delete(this.expected);
    this.expected++;
    this.gapSince = undefined;
    return e;
  }

  private async fill(): Promise<void> {
    const entries = await this.connections.command.xrange(jobEventsStream(this.jobId), '-', '+');
    for (const [, fields] of entries) {
      const raw = fields[1];
      if (raw !== undefined) this.push(raw);
    }
  }

  close(): Promise<void> {
    return this.release();
  }
}

@Injectable()
export class JobEventsSubscriber {
  constructor(
    private readonly connections: RedisConnections,
    private readonly subscriptions: RedisSubscriptions,
  ) {}

  /** Resolves once Redis has confirmed the subscription, so enqueueing after it cannot miss events. */
  async open(jobId: string): Promise<JobEventReader> {
    let unlisten: Unlisten = async () => undefined;
    const reader = new JobEventReader(this.connections, jobId, () => unlisten());
    unlisten = await this.subscriptions.listen(jobEventsChannel(jobId), (m) => reader.push(m));
    return reader;
  }
}
