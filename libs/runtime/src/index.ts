/** Runtime helpers shared by the apps: env validation, models file, Redis, logging. */
export * from './env';
export * from './models-file';
export * from './redis';
export * from './logger';
export * from './shutdown';
export * from './duration';
export * from './processes';
export * from './job-events.publisher';
export * from './cancel-listener';
export * from './runner-proto';
export * from './fixed-models-control';
export * from './heartbeat';
export * from './onnx-models-file';
export * from './embedding-vectors';
export * from './worker-lifecycle';
export * from './job-errors';
export * from './queue-consumer';
