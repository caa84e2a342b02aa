/**
 * Lets a sequence erase its cache while other sequences of the same context are generating.
 *
 * node-llama-cpp erases under the context lock, and its batch dispatcher holds that lock for as long
 * as any decode is queued: with two or more sequences generating there always is one, so an erase
 * (needed before nearly every job, to drop the previous job's tokens) waited until they had all
 * finished, seconds of time to first token (bench/erase-starvation.ts). Generations pass the gate
 * between tokens; an erase closes it, so within about one token no decode is queued, the dispatcher
 * releases the lock, the erase runs, and the gate opens again.
 */
export class DecodeGate {
  private closers = 0;
  private opened: Promise<void> | undefined;
  private open: (() => void) | undefined;

  /** Generations await this between tokens; it resolves at once unless an erase is waiting. */
  pass(): Promise<void> | undefined {
    return this.opened;
  }

  /** Runs `work` (an erase) while generations hold back their next decode. */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.closers++ === 0) this.opened = new Promise((resolve) => (this.open = resolve));
    try {
      return await work();
    } finally {
      if (--this.closers === 0) {
        this.open!();
        this.opened = undefined;
        this.open = undefined;
      }
    }
  }
}
