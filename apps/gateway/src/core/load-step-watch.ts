/**
 * Watches workers' load-progress channels for the loads a gateway asked for (the admin API's SSE
 * load stream): one subscription per worker, shared by every load watching it, dropped with the
 * last watcher.
 */
import { workerLoadProgressChannel, type LoadProgressMessage } from '@switchyard/contracts';
import type { RedisSubscriptions, Unlisten } from './redis-subscriptions';

type Watcher = (step: LoadProgressMessage) => void;

export class LoadStepWatch {
  private readonly channels = new Map<string, { watchers: Set<Watcher>; listening: Promise<Unlisten> }>();

  constructor(private readonly subscriptions: RedisSubscriptions) {}

  /** Resolves once subscribed (a step published after it reaches `watcher`), with the way to stop. */
  async watch(workerId: string, watcher: Watcher): Promise<() => Promise<void>> {
    let entry = this.channels.get(workerId);
    if (!entry) {
      const watchers = new Set<Watcher>();
      const listening = this.subscriptions.listen(workerLoadProgressChannel(workerId), (raw) => {
        let step: LoadProgressMessage;
        try {
          step = JSON.parse(raw) as LoadProgressMessage;
        } catch {
          return;
        }
        for (const w of watchers) w(step);
      });
      entry = { watchers, listening };
      this.channels.set(workerId, entry);
      listening.catch(() => this.channels.delete(workerId));
    }
    const current = entry;
    current.watchers.add(watcher);
    await current.listening;
    return async () => {
      current.watchers.delete(watcher);
      if (current.watchers.size > 0 || this.channels.get(workerId) !== current) return;
      this.channels.delete(workerId);
      await (await current.listening)();
    };
  }
}
