/** Entry point of the upstream worker (routes models to OpenAI-compatible servers). */
import { bootWorker } from '@switchyard/runtime';
import { UpstreamJobEngine } from '@switchyard/upstream';
import { UpstreamWorkerService } from './upstream-worker.service';
import { UpstreamWorkerEnv } from './upstream-worker-config';

bootWorker({ name: 'upstream-worker', backend: 'upstream', handledKinds: UpstreamJobEngine.kinds, env: UpstreamWorkerEnv, service: UpstreamWorkerService });
