/** Entry point of the onnx worker (ONNX Runtime through transformers.js): embeddings, classifiers, rerankers. */
import { bootWorker } from '@switchyard/runtime';
import { OnnxJobEngine } from './onnx-job-engine';
import { OnnxWorkerService } from './onnx-worker.service';
import { OnnxWorkerEnv } from './worker-config';

bootWorker({ name: 'onnx-worker', backend: 'onnx', handledKinds: OnnxJobEngine.kinds, env: OnnxWorkerEnv, service: OnnxWorkerService });
