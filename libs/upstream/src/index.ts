/**
 * The upstream engine: calls OpenAI-compatible servers (HTTP and timeouts, failure mapping, SSE
 * framing, chunk translation into neutral deltas) and routes a model over its deployments.
 */
export * from './upstream-failure';
export * from './chunk-translator';
export * from './sse-reader';
export * from './upstream-client';
export * from './upstream-router';
export * from './upstream-job-engine';
