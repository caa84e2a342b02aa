/**
 * Redis connections and a private redis-server for single-machine runs and tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis, { type RedisOptions } from 'ioredis';
import { Logger } from './logger';

const log = new Logger('redis');

/**
 * `maxRetriesPerRequest: null` is required by BullMQ for blocking connections and is the right
 * choice for ours too: a command waits for a reconnect instead of failing a request mid-way.
 */
export function createRedis(url: string, name: string, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, connectionName: name, enableReadyCheck: true, ...extra });
  // ioredis reconnects on its own; without a listener it would print every failed attempt unformatted.
  redis.on('error', (err: Error) => log.warn('redis connection error', { connection: name, error: err.message }));
  return redis;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export interface LocalRedis {
  url: string;
  port: number;
  /** The running redis-server (a new one after `restart`). */
  process: ChildProcess;
  stop(): Promise<void>;
  /** Stops it and, after `downMs`, starts an empty one on the same port (tests of a Redis restart). */
  restart(downMs?: number): Promise<void>;
}

export class RedisServerMissingError extends Error {}

/**
 * Starts redis-server on a free loopback port with no persistence and `noeviction` (BullMQ must never
 * lose keys to eviction). Resolves when it answers PING.
 */
export async function startLocalRedis(options: { port?: number; binary?: string; ownProcessGroup?: boolean } = {}): Promise<LocalRedis> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-redis-'));
  const binary = options.binary ?? 'redis-server';
  const url = `redis://127.0.0.1:${port}`;
  const stopChild = (child: ChildProcess): Promise<void> =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  const local: LocalRedis = {
    url,
    port,
    process: await spawnRedis(binary, port, dir, url, options.ownProcessGroup === true),
    stop: () => stopChild(local.process),
    restart: async (downMs = 0) => {
      await stopChild(local.process);
      await new Promise((r) => setTimeout(r, downMs));
      local.process = await spawnRedis(binary, port, dir, url, options.ownProcessGroup === true);
    },
  };
  return local;
}

async function spawnRedis(binary: string, port: number, dir: string, url: string, ownProcessGroup: boolean): Promise<ChildProcess> {
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir],
    // In its own process group, a terminal's Ctrl-C (or a SIGTERM to the group) does not stop it
    // under the apps still draining: its owner stops it last.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: ownProcessGroup },
  );
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new RedisServerMissingError(`${binary} not found`)
          : new Error(`redis-server failed to start: ${err.message}`),
      );
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}`)));
  });
  const ready = (async () => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        probe.disconnect();
      }
    }
  })();
  try {
    await Promise.race([ready, spawnError]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  spawnError.catch(() => undefined);
  return child;
}
