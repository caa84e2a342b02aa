/** Entry point of the llm worker (llama.cpp through node-llama-cpp). */
import { bootWorker } from '@switchyard/runtime';
import { LlamaJobEngine } from '@switchyard/llama';
import { LlmWorkerService } from './llm-worker.service';
import { LlmWorkerEnv } from './worker-config';

bootWorker({ name: 'llm-worker', backend: 'llama.cpp', handledKinds: LlamaJobEngine.kinds, env: LlmWorkerEnv, service: LlmWorkerService });
