/**
 * The pipeline thread's entry: one DiffusionPipeline per thread, loaded on the first message,
 * running one request at a time in arrival order. onnxruntime-node runs a graph on the calling
 * thread, so the worker's own event loop (job locks, heartbeats, cancel messages) stays free while
 * a UNet step takes seconds here. Cancellation arrives as a flag in shared memory, read between steps.
 */
import { parentPort } from 'node:worker_threads';
import { DiffusionPipeline } from './pipeline';
import type { FromThread, ToThread } from './thread-messages';

const port = parentPort;
if (!port) throw new Error('pipeline-thread.js runs as a worker thread');

let pipeline: DiffusionPipeline | undefined;
let queue: Promise<void> = Promise.resolve();

function send(message: FromThread): void {
  port!.postMessage(message);
}

async function handle(message: ToThread): Promise<void> {
  switch (message.type) {
    case 'load':
      try {
        pipeline = await DiffusionPipeline.load(message.dir, message.options);
        send({ type: 'loaded', canEdit: pipeline.canEdit, scheduler: pipeline.layout.schedulerName });
      } catch (err) {
        send({ type: 'load-error', message: (err as Error).message });
      }
      return;
    case 'generate': {
      const { id } = message;
      const flag = new Int32Array(message.cancel);
      try {
        if (!pipeline) throw new Error('the pipeline is not loaded');
        const output = await pipeline.generate(message.request, {
          step: (step, steps) => send({ type: 'step', id, step, steps }),
          preview: (image, partial) => send({ type: 'preview', id, image, partial }),
          aborted: () => Atomics.load(flag, 0) !== 0,
        });
        send({ type: 'done', id, output });
      } catch (err) {
        send({ type: 'error', id, message: (err as Error).message, aborted: (err as Error).name === 'AbortError' });
      }
      return;
    }
    case 'dispose':
      await pipeline?.dispose();
      pipeline = undefined;
      send({ type: 'disposed' });
      return;
  }
}

port.on('message', (message: ToThread) => {
  queue = queue.then(() => handle(message));
});
