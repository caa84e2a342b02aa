/**
 * Which queue a model's jobs go to, by backend, and the payloads those queues carry. Model names are
 * unique across the models file and runner registrations, so one queue serves one model.
 */
import { llmQueueName } from './queues';
import type { JobOwner, LlmQueueJob } from './jobs';
import type { ModelDescriptor } from './models';
import { runnerQueueName } from './runner';
import { onnxQueueName, type TaskJobData } from './onnx-jobs';
import { upstreamQueueName, type UpstreamJobData } from './upstream';

export type QueuedJobData = (LlmQueueJob | UpstreamJobData | TaskJobData) & JobOwner;

export function queueNameFor(model: ModelDescriptor): string {
  switch (model.backend) {
    case 'llama.cpp':
      return llmQueueName(model.name);
    case 'upstream':
      return upstreamQueueName(model.name);
    case 'runner':
      return runnerQueueName(model.name);
    case 'onnx':
      return onnxQueueName(model.name);
  }
}
