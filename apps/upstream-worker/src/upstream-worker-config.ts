/**
 * The upstream worker's environment, validated once at start-up.
 */
import { WorkerEnv } from '@switchyard/runtime';

/** Only what every worker reads (WorkerEnv); the upstreams themselves are in the models file. */
export class UpstreamWorkerEnv extends WorkerEnv {}
