/**
 * The models-file branch for `backend: upstream` entries: one deployment written inline (base_url,
 * upstream_model, ...) or several under `deployments`, each an OpenAI-compatible server. API keys are
 * never written in the file, only the name of the environment variable that holds them.
 */
import type { UpstreamDeployment, UpstreamModelDescriptor, UpstreamRouting } from '@switchyard/contracts';
import { parseDurationMs } from './duration';
import { int, ModelsFileError } from './models-file';

type Raw = Record<string, unknown>;

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEPLOYMENT_KEYS = ['base_url', 'upstream_model', 'api_key_env', 'api_key', 'timeout', 'connect_timeout', 'idle_timeout', 'headers', 'weight', 'stream', 'include_usage'];

function duration(e: Raw, key: string, at: string, def: number): number {
  const v = e[key];
  if (v === undefined) return def;
  const ms = parseDurationMs(v);
  if (ms === undefined || ms <= 0) throw new ModelsFileError(`${at}: '${key}' must be a positive number of seconds or a duration like "30s"`);
  return ms;
}

function parseDeployment(e: Raw, at: string, defaults: Raw, modelName: string): UpstreamDeployment {
  const get = (key: string): unknown => e[key] ?? defaults[key];
  const baseUrl = get('base_url');
  if (typeof baseUrl !== 'string') throw new ModelsFileError(`${at}: 'base_url' (the upstream's /v1 URL) is required`);
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ModelsFileError(`${at}: 'base_url' is not a URL: ${baseUrl}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ModelsFileError(`${at}: 'base_url' must be http or https`);
  const model = get('upstream_model') ?? modelName;
  if (typeof model !== 'string' || model.length === 0) throw new ModelsFileError(`${at}: 'upstream_model' must be a model id`);
  let apiKeyEnv = get('api_key_env');
  const apiKey = get('api_key');
  if (apiKey !== undefined) {
    // LiteLLM's spelling: api_key: os.environ/NAME. A literal key would end up in files and logs.
    const m = typeof apiKey === 'string' ? /^os\.environ\/(.+)$/.exec(apiKey) : null;
    if (!m) throw new ModelsFileError(`${at}: 'api_key' must be "os.environ/NAME" (or use api_key_env: NAME); keys are never written in the file`);
    apiKeyEnv = m[1];
  }
  if (apiKeyEnv !== undefined && (typeof apiKeyEnv !== 'string' || !ENV_NAME_RE.test(apiKeyEnv))) {
    throw new ModelsFileError(`${at}: 'api_key_env' must be an environment variable name`);
  }
  const headers = get('headers') ?? {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new ModelsFileError(`${at}: 'headers' must map header names to strings`);
  }
  const stream = get('stream') ?? true;
  if (typeof stream !== 'boolean') throw new ModelsFileError(`${at}: 'stream' must be true or false`);
  const includeUsage = get('include_usage') ?? true;
  if (typeof includeUsage !== 'boolean') throw new ModelsFileError(`${at}: 'include_usage' must be true or false`);
  const timeout = duration({ timeout: get('timeout') }, 'timeout', at, 600_000);
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    model,
    ...(apiKeyEnv !== undefined ? { apiKeyEnv: apiKeyEnv as string } : {}),
    connectTimeoutMs: duration({ connect_timeout: get('connect_timeout') }, 'connect_timeout', at, Math.min(timeout, 30_000)),
    idleTimeoutMs: duration({ idle_timeout: get('idle_timeout') }, 'idle_timeout', at, timeout),
    headers: headers as Record<string, string>,
    weight: int({ weight: get('weight') }, 'weight', at, 1, 1, 1000),
    stream,
    includeUsage,
  };
}

export function parseUpstreamEntry(e: Raw, at: string, name: string, aliases: string[], created: number): UpstreamModelDescriptor {
  const routing = e.routing ?? 'fallback';
  if (routing !== 'fallback' && routing !== 'balance') throw new ModelsFileError(`${at}: 'routing' must be 'fallback' or 'balance'`);
  let deployments: UpstreamDeployment[];
  if (e.deployments !== undefined) {
    if (!Array.isArray(e.deployments) || e.deployments.length === 0) {
      throw new ModelsFileError(`${at}: 'deployments' must be a non-empty list`);
    }
    // Keys written beside `deployments` are defaults for each of them.
    const defaults: Raw = Object.fromEntries(DEPLOYMENT_KEYS.filter((k) => k in e).map((k) => [k, e[k]]));
    deployments = e.deployments.map((d: unknown, i) => {
      if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new ModelsFileError(`${at}: deployments[${i}] must be a mapping`);
      return parseDeployment(d as Raw, `${at} deployments[${i}]`, defaults, name);
    });
  } else {
    deployments = [parseDeployment(e, at, {}, name)];
  }
  return {
    name,
    aliases,
    backend: 'upstream',
    deployments,
    routing: routing as UpstreamRouting,
    concurrency: int(e, 'concurrency', at, 16, 1, 4096),
    contextSize: int(e, 'context_length', at, 0, 0, 1 << 24),
    maxQueue: int(e, 'max_queue', at, 256, 0, 1_000_000),
    autoLoad: false,
    preload: true,
    keepAliveMs: -1,
    created,
    ownedBy: typeof e.owned_by === 'string' ? e.owned_by : 'upstream',
  };
}
