import { EnvError, loadEnv, WorkerEnv } from './env';

class DrainsFast extends WorkerEnv {
  override SHUTDOWN_DRAIN_MS: number = 10_000;
}

describe('loadEnv', () => {
  it('applies defaults, converts numbers and lets a worker override a default', () => {
    expect(loadEnv(WorkerEnv, {}).SHUTDOWN_DRAIN_MS).toBe(20_000);
    expect(loadEnv(DrainsFast, {}).SHUTDOWN_DRAIN_MS).toBe(10_000);
    expect(loadEnv(DrainsFast, { SHUTDOWN_DRAIN_MS: '500', WORKER_ID: 'w-1' })).toMatchObject({ SHUTDOWN_DRAIN_MS: 500, WORKER_ID: 'w-1' });
  });

  it('names every bad variable, inherited checks included', () => {
    expect(() => loadEnv(DrainsFast, { SHUTDOWN_DRAIN_MS: 'soon', WORKER_ID: 'a b', REDIS_URL: 'http://x' })).toThrow(EnvError);
    try {
      loadEnv(DrainsFast, { SHUTDOWN_DRAIN_MS: 'soon', WORKER_ID: 'a b', REDIS_URL: 'http://x' });
    } catch (err) {
      const text = (err as Error).message;
      for (const name of ['SHUTDOWN_DRAIN_MS', 'WORKER_ID', 'REDIS_URL']) expect(text).toContain(name);
    }
  });
});
