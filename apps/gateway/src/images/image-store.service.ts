/**
 * Where images answered with `response_format: url` wait to be fetched: in Redis (the default, so
 * every gateway replica serves every URL) or in IMAGE_STORE_DIR (a directory the replicas share),
 * for IMAGE_URL_TTL_MS. Ids are 144 random bits: the URL is the only key to the image, as OpenAI's
 * signed URLs are.
 */
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdirSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { REDIS_PREFIX, type ImageOutputFormat } from '@switchyard/contracts';
import { Logger } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { RedisConnections } from '../core/redis-connections';

/** A stored image's file name: id and extension. */
export const IMAGE_FILE = /^([A-Za-z0-9_-]{24})\.(png|jpeg|webp)$/;
const SWEEP_MS = 60_000;

function key(name: string): string {
  return `${REDIS_PREFIX}:image:${name}`;
}

@Injectable()
export class ImageStore implements OnModuleDestroy {
  private readonly log = new Logger('gateway.images');
  private readonly dir: string | undefined;
  private readonly ttlMs: number;
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    private readonly redis: RedisConnections,
  ) {
    this.dir = env.IMAGE_STORE_DIR;
    this.ttlMs = env.IMAGE_URL_TTL_MS;
    if (this.dir) {
      mkdirSync(this.dir, { recursive: true });
      this.sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
      this.sweeper.unref();
    }
  }

  /** Stores the image and returns its file name (id.ext), valid for the TTL. */
  async put(bytes: Buffer, format: ImageOutputFormat): Promise<string> {
    const name = `${randomBytes(18).toString('base64url')}.${format}`;
    if (this.dir) await fs.writeFile(join(this.dir, name), bytes, { flag: 'wx' });
    else await this.redis.command.set(key(name), bytes, 'PX', this.ttlMs);
    return name;
  }

  /** The image's bytes, or undefined when the name is unknown or has expired. */
  async get(name: string): Promise<Buffer | undefined> {
    if (!IMAGE_FILE.test(name)) return undefined;
    if (!this.dir) return (await this.redis.command.getBuffer(key(name))) ?? undefined;
    const path = join(this.dir, name);
    try {
      const stat = await fs.stat(path);
      if (Date.now() - stat.mtimeMs > this.ttlMs) {
        await fs.rm(path, { force: true });
        return undefined;
      }
      return await fs.readFile(path);
    } catch {
      return undefined;
    }
  }

  /** Deletes expired files (a replica that reads one first deletes it too). */
  private async sweep(): Promise<void> {
    if (!this.dir) return;
    try {
      for (const name of await fs.readdir(this.dir)) {
        if (!IMAGE_FILE.test(name)) continue;
        const path = join(this.dir, name);
        const stat = await fs.stat(path).catch(() => undefined);
        if (stat && Date.now() - stat.mtimeMs > this.ttlMs) await fs.rm(path, { force: true });
      }
    } catch (err) {
      this.log.warn('could not sweep expired images', { dir: this.dir, error: (err as Error).message });
    }
  }

  onModuleDestroy(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
