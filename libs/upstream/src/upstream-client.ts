/**
 * Calls one OpenAI-compatible deployment (chat, legacy completions or embeddings; streamed or not):
 * builds the request (model id, API key, stream options), enforces the connect and idle timeouts,
 * follows the caller's abort, and hands the body to the SSE reader and chunk translator. Failures
 * come back as UpstreamFailure, marked retryable when another deployment may serve the request so
 * the caller can fall back before any token was sent. No Redis or HTTP server here: the upstream
 * worker and the runner's local-server mode both use it.
 */
import type { FinishReason, Usage, UpstreamDeployment, UpstreamEndpoint } from '@switchyard/contracts';
import { toUsage, translateStream, translateWhole, type UpstreamSink } from './chunk-translator';
import { readSseData } from './sse-reader';
import { connectionFailure, httpFailure, missingApiKey, responseFailure, UpstreamFailure } from './upstream-failure';

export interface UpstreamResult {
  finishReason: FinishReason;
  usage: Usage;
  aborted: boolean;
}

export interface UpstreamRequest {
  deployment: UpstreamDeployment;
  endpoint: UpstreamEndpoint;
  /** The client's body without model/stream; the deployment's model id is set here. */
  body: Record<string, unknown>;
  signal: AbortSignal;
  sink: UpstreamSink;
  /** Looks up API keys (process.env by default); never logged. */
  env?: NodeJS.ProcessEnv;
  /** Name used in error messages (the model as clients know it). */
  label: string;
}

const PATHS: Record<UpstreamEndpoint, string> = { chat: '/chat/completions', completions: '/completions', embeddings: '/embeddings' };

export async function callUpstream(req: UpstreamRequest): Promise<UpstreamResult> {
  const { deployment: dep, signal } = req;
  const env = req.env ?? process.env;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: dep.stream && req.endpoint !== 'embeddings' ? 'text/event-stream' : 'application/json', ...dep.headers };
  if (dep.apiKeyEnv !== undefined) {
    const key = env[dep.apiKeyEnv];
    if (!key) throw missingApiKey(req.label, dep.apiKeyEnv);
    headers.authorization = `Bearer ${key}`;
  }
  const generating = req.endpoint !== 'embeddings';
  const stream = dep.stream && generating;
  const body = { ...req.body, model: dep.model, ...(generating ? { stream } : {}), ...(stream && dep.includeUsage ? { stream_options: { include_usage: true } } : {}) };
  // One controller for both timeouts and the caller's abort; `timedOut` tells them apart afterwards.
  const abort = new AbortController();
  let timedOut: 'connect' | 'idle' | undefined;
  let timer = setTimeout(() => {
    timedOut = 'connect';
    abort.abort();
  }, dep.connectTimeoutMs);
  const resetIdle = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = 'idle';
      abort.abort();
    }, dep.idleTimeoutMs);
  };
  const onAbort = (): void => abort.abort();
  signal.addEventListener('abort', onAbort);
  const counter = { deltas: 0 };
  const sink: UpstreamSink = {
    delta: (d) => {
      counter.deltas++;
      req.sink.delta(d);
    },
  };
  try {
    let res: Response;
    try {
      res = await fetch(`${dep.baseUrl}${PATHS[req.endpoint]}`, { method: 'POST', headers, body: JSON.stringify(body), signal: abort.signal });
    } catch (err) {
      if (signal.aborted) return abortedResult();
      throw connectionFailure(req.label, err, timedOut !== undefined, dep);
    }
    if (!res.ok) throw await httpFailure(req.label, res);
    resetIdle();
    try {
      if (!generating) {
        const json = (await res.json()) as Record<string, unknown>;
        req.sink.result?.(json);
        return { finishReason: 'stop', usage: toUsage(json.usage) ?? { promptTokens: 0, completionTokens: 0 }, aborted: false };
      }
      const result = stream && (res.headers.get('content-type') ?? '').includes('text/event-stream')
        ? await translateStream(readSseData(bodyOf(res), resetIdle), req.endpoint, sink)
        : translateWhole(await res.json(), req.endpoint, sink);
      // Servers that send no usage: count the chunks, which is what most send one token per.
      if (result.usage.completionTokens === 0 && counter.deltas > 0 && !result.usageReported) result.usage.completionTokens = counter.deltas;
      return { finishReason: result.finishReason, usage: result.usage, aborted: false };
    } catch (err) {
      if (signal.aborted) return abortedResult();
      if (err instanceof UpstreamFailure) throw err;
      throw responseFailure(req.label, err, timedOut === 'idle', dep);
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

function bodyOf(res: Response): AsyncIterable<Uint8Array> {
  if (!res.body) throw new Error('empty body');
  return res.body as unknown as AsyncIterable<Uint8Array>;
}

function abortedResult(): UpstreamResult {
  return { finishReason: 'stop', usage: { promptTokens: 0, completionTokens: 0 }, aborted: true };
}
