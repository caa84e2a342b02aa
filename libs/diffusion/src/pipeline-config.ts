/**
 * Reads a Stable Diffusion pipeline folder in the Hugging Face/Optimum ONNX layout (model_index.json,
 * text_encoder/, unet/, vae_decoder/, vae_encoder/, tokenizer/, scheduler/scheduler_config.json)
 * and says clearly which part is missing or malformed, before any graph is loaded.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schedulerNameOf, type SchedulerConfig, type SchedulerName } from './schedulers';

export interface PipelineLayout {
  dir: string;
  textEncoder: string;
  unet: string;
  vaeDecoder: string;
  /** Absent: the pipeline cannot do edits or variations (img2img needs the encoder). */
  vaeEncoder?: string;
  tokenizer: string;
  scheduler: SchedulerConfig;
  schedulerName: SchedulerName;
  /** Latents are the VAE's output times this (0.18215 for SD 1.x/2.x and SD-Turbo, 0.13025 for SDXL). */
  scalingFactor: number;
  /** model_index.json's class: StableDiffusionXL pipelines need a second text encoder, which this does not run. */
  pipelineClass: string;
}

export class PipelineLayoutError extends Error {}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new PipelineLayoutError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

function graph(dir: string, part: string, required: boolean): string | undefined {
  const path = join(dir, part, 'model.onnx');
  if (existsSync(path)) return path;
  if (required) throw new PipelineLayoutError(`${dir} is not an ONNX diffusion pipeline: ${part}/model.onnx is missing`);
  return undefined;
}

export function readPipelineLayout(dir: string, schedulerOverride?: SchedulerName): PipelineLayout {
  const index = readJson(join(dir, 'model_index.json'));
  const pipelineClass = typeof index._class_name === 'string' ? index._class_name : 'StableDiffusionPipeline';
  if (pipelineClass.includes('XL') || existsSync(join(dir, 'text_encoder_2'))) {
    // SDXL conditions on two text encoders' states and pooled embeddings plus size ids.
    throw new PipelineLayoutError(`${dir}: ${pipelineClass} (two text encoders) is not supported yet; use an SD 1.x/2.x or SD-Turbo export`);
  }
  const scheduler = readJson(join(dir, 'scheduler', 'scheduler_config.json')) as SchedulerConfig;
  const own = schedulerNameOf(String(scheduler._class_name ?? ''));
  const schedulerName = schedulerOverride ?? own;
  if (schedulerName === undefined) {
    throw new PipelineLayoutError(`${dir}: scheduler ${String(scheduler._class_name)} is not one of Euler, Euler ancestral, DDIM, PNDM, LCM; set 'scheduler' in the models file`);
  }
  const vaeConfigPath = [join(dir, 'vae_decoder', 'config.json'), join(dir, 'vae_encoder', 'config.json')].find((p) => existsSync(p));
  const vaeConfig = vaeConfigPath ? readJson(vaeConfigPath) : {};
  const tokenizer = join(dir, 'tokenizer');
  if (!existsSync(join(tokenizer, 'tokenizer.json')) && !existsSync(join(tokenizer, 'vocab.json'))) {
    throw new PipelineLayoutError(`${dir}: tokenizer/ has no tokenizer.json or vocab.json`);
  }
  const vaeEncoder = graph(dir, 'vae_encoder', false);
  return {
    dir,
    textEncoder: graph(dir, 'text_encoder', true)!,
    unet: graph(dir, 'unet', true)!,
    vaeDecoder: graph(dir, 'vae_decoder', true)!,
    ...(vaeEncoder ? { vaeEncoder } : {}),
    tokenizer,
    scheduler,
    schedulerName,
    scalingFactor: typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : 0.18215,
    pipelineClass,
  };
}
