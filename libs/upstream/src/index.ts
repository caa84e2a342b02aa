/** The upstream engine: calls OpenAI-compatible servers and routes a model over its deployments. */
export * from './upstream-client';
export * from './upstream-router';
