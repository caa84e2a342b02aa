/**
 * The models-file branch for `backend: upstream` entries: one deployment written inline (base_url,
 * upstream_model, ...) or several under `deployments`, each an OpenAI-compatible server. API keys are
 * never written in the file, only the name of the environment variable that holds them. The entry
 * has passed models.schema.json; what is left here is what a schema cannot say.
 */
import type { UpstreamDeployment, UpstreamModelDescriptor, UpstreamRouting } from '@switchyard/contracts';
import { ModelsFileError } from './models-file';
import { durationMs, MODELS_SCHEMA } from './models-schema';

/** One deployment's keys as models.schema.json admits them (also the entry's, as their defaults). */
export interface UpstreamDeploymentEntry {
  base_url?: string;
  upstream_model?: string;
  api_key_env?: string;
  /** "os.environ/NAME" (LiteLLM's spelling of api_key_env). */
  api_key?: string;
  timeout?: number | string;
  connect_timeout?: number | string;
  idle_timeout?: number | string;
  headers?: Record<string, string>;
  weight?: number;
  stream?: boolean;
  include_usage?: boolean;
}

/** An upstream entry as models.schema.json admits it. */
export interface UpstreamEntry extends UpstreamDeploymentEntry {
  routing?: UpstreamRouting;
  deployments?: UpstreamDeploymentEntry[];
  concurrency?: number;
  context_length?: number;
  max_queue?: number;
  owned_by?: string;
}

const DEPLOYMENT_KEYS = Object.keys(MODELS_SCHEMA.definitions.deployment.properties ?? {});

function positiveMs(value: number | string | undefined, key: string, at: string, def: number): number {
  const ms = durationMs(value, def);
  // The schema admits "0s" and 0.0001 (a string pattern cannot tell), which round to no time at all.
  if (ms <= 0) throw new ModelsFileError(`${at}: '${key}' must be a positive number of seconds or a duration like "30s"`);
  return ms;
}

function parseDeployment(e: UpstreamDeploymentEntry, at: string, modelName: string): UpstreamDeployment {
  const baseUrl = e.base_url;
  if (baseUrl === undefined) throw new ModelsFileError(`${at}: 'base_url' (the upstream's /v1 URL) is required`);
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ModelsFileError(`${at}: 'base_url' is not a URL: ${baseUrl}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ModelsFileError(`${at}: 'base_url' must be http or https`);
  // The schema admits api_key only as "os.environ/NAME"; a literal key would end up in files and logs.
  const apiKeyEnv = e.api_key !== undefined ? e.api_key.slice('os.environ/'.length) : e.api_key_env;
  const timeout = positiveMs(e.timeout, 'timeout', at, 600_000);
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    model: e.upstream_model ?? modelName,
    ...(apiKeyEnv !== undefined ? { apiKeyEnv } : {}),
    connectTimeoutMs: positiveMs(e.connect_timeout, 'connect_timeout', at, Math.min(timeout, 30_000)),
    idleTimeoutMs: positiveMs(e.idle_timeout, 'idle_timeout', at, timeout),
    headers: e.headers ?? {},
    weight: e.weight ?? 1,
    stream: e.stream ?? true,
    includeUsage: e.include_usage ?? true,
  };
}

export function parseUpstreamEntry(e: UpstreamEntry, at: string, name: string, aliases: string[], created: number): UpstreamModelDescriptor {
  // Keys written beside `deployments` are defaults for each of them.
  const defaults: UpstreamDeploymentEntry = Object.fromEntries(DEPLOYMENT_KEYS.filter((k) => k in e).map((k) => [k, e[k as keyof UpstreamDeploymentEntry]]));
  const deployments =
    e.deployments === undefined
      ? [parseDeployment(e, at, name)]
      : e.deployments.map((d, i) => parseDeployment({ ...defaults, ...d }, `${at} deployments[${i}]`, name));
  return {
    name,
    aliases,
    backend: 'upstream',
    deployments,
    routing: e.routing ?? 'fallback',
    concurrency: e.concurrency ?? 16,
    contextSize: e.context_length ?? 0,
    maxQueue: e.max_queue ?? 256,
    autoLoad: false,
    preload: true,
    keepAliveMs: -1,
    created,
    ownedBy: e.owned_by ?? 'upstream',
  };
}
