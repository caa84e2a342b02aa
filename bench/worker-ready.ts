/**
 * Waits until one worker's heartbeat reports `count` models ready: the benches start a gateway
 * and a worker holding the same folder under several entries, and measure only once all are loaded.
 */
import Redis from 'ioredis';
import { waitUntil } from '@switchyard/runtime';

export async function waitForReadyModels(redisUrl: string, count: number, timeoutMs: number, what: string, logs: string[]): Promise<void> {
  const r = new Redis(redisUrl);
  try {
    await waitUntil(
      async () => {
        for (const id of await r.smembers('switchyard:workers')) {
          const hb = JSON.parse((await r.get(`switchyard:worker:${id}`)) ?? '{"models":[]}') as { models: Array<{ state: string }> };
          if (hb.models.filter((m) => m.state === 'ready').length === count) return true;
        }
        return false;
      },
      timeoutMs,
      what,
      logs,
    );
  } finally {
    r.disconnect();
  }
}
