/**
 * The gateway's environment, validated once at start-up.
 */
import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { CommonEnv } from '@switchyard/runtime';

export class GatewayEnv extends CommonEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 8080;

  @IsString()
  HOST: string = '0.0.0.0';

  /** Comma-separated API keys; empty runs the API open. */
  @IsOptional()
  @IsString()
  API_KEYS?: string;

  /** Comma-separated admin keys for the admin API (they work as API keys too). */
  @IsOptional()
  @IsString()
  ADMIN_KEYS?: string;

  /** How long loading a model (admin or on demand) may take. */
  @IsInt()
  @Min(1000)
  LOAD_TIMEOUT_MS: number = 120_000;

  /** How long an unload lets running requests finish before aborting them. */
  @IsInt()
  @Min(0)
  UNLOAD_DRAIN_MS: number = 30_000;

  /** Largest request body accepted (413 above). */
  @IsInt()
  @Min(1024)
  MAX_BODY_BYTES: number = 10 * 1024 * 1024;

  /** Largest audio file /v1/audio/transcriptions and /translations accept (413 above); OpenAI's is 25 MB. */
  @IsInt()
  @Min(1024)
  AUDIO_MAX_FILE_BYTES: number = 25 * 1024 * 1024;

  /** Largest image (or mask) /v1/images/edits and /variations accept (400 on its field above); gpt-image's is 50 MB. */
  @IsInt()
  @Min(1024)
  IMAGE_MAX_FILE_BYTES: number = 50 * 1024 * 1024;

  /** How long an image answered with `response_format: url` stays fetchable. */
  @IsInt()
  @Min(1000)
  IMAGE_URL_TTL_MS: number = 3_600_000;

  /** Keep `url` images as files in this directory (shared by the replicas) instead of in Redis. */
  @IsOptional()
  @IsString()
  IMAGE_STORE_DIR?: string;

  /** The gateway's public base URL for image URLs (default: the request's own scheme and Host). */
  @IsOptional()
  @IsString()
  PUBLIC_BASE_URL?: string;

  /** How long a request waits for some worker to serve its model before 503. */
  @IsInt()
  @Min(0)
  WORKER_WAIT_MS: number = 10_000;

  /** How long a job may wait in its queue for a free slot before 503. */
  @IsInt()
  @Min(1000)
  QUEUE_TIMEOUT_MS: number = 300_000;

  /**
   * How long a stored response (POST /v1/responses with `store`, the default) stays retrievable
   * and usable as previous_response_id, with the events of a background stream.
   */
  @IsInt()
  @Min(60)
  RESPONSE_RETENTION_SECONDS: number = 7 * 24 * 3600;

  /** A streaming client that reads nothing for this long while the socket's buffer is full is dropped. */
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  STREAM_STALL_MS: number = 30_000;

  /**
   * A streaming request silent this long once its job is queued (a wait for a slot, a long prefill)
   * gets its SSE headers and a `: keep-alive` comment, and another each time it is silent this long
   * again, so proxies with an idle timeout keep the connection; 0 turns it off.
   */
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  SSE_KEEPALIVE_MS: number = 15_000;

  /** `false` lets the queue dashboard (/admin/queues) retry, clean, pause and remove jobs; it only shows them by default. */
  @IsIn(['true', 'false'])
  QUEUE_DASHBOARD_READ_ONLY: 'true' | 'false' = 'true';

  /** Serve /metrics without a key on this port too (bound to HOST), for scrapers inside a cluster. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65535)
  METRICS_PORT?: number;

  /** Port of the gRPC endpoint remote runners dial (unset: no runners accepted). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65535)
  RUNNER_GRPC_PORT?: number;

  @IsString()
  RUNNER_GRPC_HOST: string = '0.0.0.0';

  /** Comma-separated runner tokens (separate from API keys); required when RUNNER_GRPC_PORT is set. */
  @IsOptional()
  @IsString()
  RUNNER_TOKENS?: string;

  /** PEM certificate and key files: the runner endpoint uses TLS when both are set. */
  @IsOptional()
  @IsString()
  RUNNER_TLS_CERT?: string;

  @IsOptional()
  @IsString()
  RUNNER_TLS_KEY?: string;

  /** Requests allowed to wait for a runner model before 429. */
  @IsInt()
  @Min(0)
  RUNNER_MAX_QUEUE: number = 64;
}

export const GATEWAY_ENV = Symbol('GATEWAY_ENV');
