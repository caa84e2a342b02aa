/**
 * Which queue a model's jobs go to, by backend, and the payloads those queues carry. Model names are
 * unique across the models file and runner registrations, so one queue serves one model.
 */
import { backendOf } from './backends';
import type { JobOwner, LlmQueueJob } from './jobs';
import type { ModelDescriptor } from './models';
import type { TaskJobData } from './onnx-jobs';
import type { UpstreamJobData } from './upstream';

export type QueuedJobData = (LlmQueueJob | UpstreamJobData | TaskJobData) & JobOwner;

export function queueNameFor(model: ModelDescriptor): string {
  return backendOf(model).queueName(model.name);
}
