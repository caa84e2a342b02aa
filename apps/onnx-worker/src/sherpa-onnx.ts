/**
 * sherpa-onnx's Node addon (prebuilt for linux-x64, with its own ONNX Runtime), typed as far as the
 * voice model type uses it. Loaded on first use, so a worker that serves no voice never maps it.
 */
import { createRequire } from 'node:module';

export interface SherpaVitsConfig {
  model: string;
  tokens: string;
  dataDir?: string;
  lexicon?: string;
  noiseScale?: number;
  noiseScaleW?: number;
  lengthScale?: number;
}

export interface SherpaTtsConfig {
  model: {
    vits?: SherpaVitsConfig;
    kokoro?: { model: string; voices: string; tokens: string; dataDir?: string; lexicon?: string; lengthScale?: number };
    kitten?: { model: string; voices: string; tokens: string; dataDir?: string; lengthScale?: number };
    matcha?: { acousticModel: string; vocoder: string; tokens: string; dataDir?: string; lexicon?: string; lengthScale?: number };
    numThreads: number;
    provider: 'cpu' | 'cuda';
    debug: boolean;
  };
  /** Sentences per generated piece (the caller splits the text itself; 1 keeps pieces small). */
  maxNumSentences: number;
}

export interface SherpaGeneratedAudio {
  samples: Float32Array;
  sampleRate: number;
}

export interface SherpaOfflineTts {
  readonly numSpeakers: number;
  readonly sampleRate: number;
  /** Runs on libuv's thread pool; `onProgress` returning 0 stops it between its own sentences. */
  generateAsync(request: { text: string; sid: number; speed: number; onProgress?: (info: { samples: Float32Array; progress: number }) => number }): Promise<SherpaGeneratedAudio>;
}

interface SherpaModule {
  OfflineTts: { createAsync(config: SherpaTtsConfig): Promise<SherpaOfflineTts> };
}

let loaded: SherpaModule | undefined;

export function sherpaOnnx(): SherpaModule {
  loaded ??= createRequire(__filename)('sherpa-onnx-node') as SherpaModule;
  return loaded;
}
