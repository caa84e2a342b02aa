/**
 * The diffusion lib: Stable Diffusion pipelines (Hugging Face/Optimum ONNX layout) on
 * onnxruntime-node, their schedulers, a runner that keeps each pipeline on a thread of its own, and
 * the image files around them (sharp). Importing it does not load the native ONNX runtime; loading a
 * pipeline does.
 */
export * from './schedulers';
export * from './random';
export * from './pixels';
export * from './pipeline-config';
export * from './pipeline';
export * from './diffusion-runner';
export * from './image-codec';
