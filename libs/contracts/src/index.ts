/** Public surface of the contracts shared by the gateway and the workers. */
export * from './queues';
export * from './jobs';
export * from './events';
export * from './models';
export * from './control';
export * from './upstream';
export * from './runner';
export * from './job-routing';
export * from './onnx-models';
export * from './onnx-jobs';
export * from './audio-jobs';
export * from './image-jobs';
export * from './backends';
export * from './voices';
