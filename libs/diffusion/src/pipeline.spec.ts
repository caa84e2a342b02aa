import '../../model-gen/src/onnx/node-realm.testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDiffusionPipeline } from '@switchyard/model-gen';
import { decodeImage, encodeImage, inspectImage } from './image-codec';
import { AbortedError, DiffusionPipeline, previewSteps, type GenerateRequest } from './pipeline';
import type { RgbImage } from './pixels';

describe('DiffusionPipeline on a generated tiny pipeline', () => {
  let dir: string;
  let pipeline: DiffusionPipeline;
  const base: GenerateRequest = { prompt: 'a lighthouse at dusk', width: 64, height: 64, steps: 2, guidanceScale: 1, seed: 7, previews: 0 };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-diffusion-'));
    generateDiffusionPipeline({ dir: join(dir, 'sd'), shape: 'tiny', seed: 3 });
    pipeline = await DiffusionPipeline.load(join(dir, 'sd'), { threads: 1, device: 'cpu' });
  });
  afterAll(async () => {
    await pipeline?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const differing = (a: RgbImage, b: RgbImage): number => a.data.reduce((n, v, i) => n + (v !== b.data[i] ? 1 : 0), 0);

  it('makes an image of the asked size; the same seed makes the same image, another seed another', async () => {
    const a = await pipeline.generate(base);
    expect(a.image.width).toBe(64);
    expect(a.image.data.length).toBe(64 * 64 * 3);
    expect(a.steps).toBe(2);
    expect(a.scheduler).toBe('euler');
    // <|startoftext|> a lighthouse at dusk <|endoftext|>
    expect(a.promptTokens).toBeGreaterThanOrEqual(4);
    const again = await pipeline.generate(base);
    expect(differing(a.image, again.image)).toBe(0);
    const other = await pipeline.generate({ ...base, seed: 8 });
    expect(differing(a.image, other.image)).toBeGreaterThan(64 * 64);
  });

  it('guidance (with the negative prompt), the scheduler and non-square sizes change or shape the result', async () => {
    const plain = await pipeline.generate(base);
    const guided = await pipeline.generate({ ...base, guidanceScale: 5, negativePrompt: 'fog' });
    expect(differing(plain.image, guided.image)).toBeGreaterThan(0);
    const ddim = await pipeline.generate({ ...base, scheduler: 'ddim', steps: 3 });
    expect(ddim.scheduler).toBe('ddim');
    expect(ddim.steps).toBe(3);
    const wide = await pipeline.generate({ ...base, width: 96, height: 48 });
    expect([wide.image.width, wide.image.height]).toEqual([96, 48]);
  });

  it('sends previews at evenly spread steps, never the last', async () => {
    expect([...previewSteps(4, 3)]).toEqual([0, 1, 2]);
    expect([...previewSteps(10, 2)]).toEqual([2, 5]);
    expect(previewSteps(1, 3).size).toBe(0);
    const previews: number[] = [];
    const steps: number[] = [];
    await pipeline.generate({ ...base, steps: 4, previews: 2 }, { preview: (image, k) => previews.push(k + image.width - 64), step: (k) => steps.push(k) });
    expect(previews).toEqual([0, 1]);
    expect(steps).toEqual([1, 2, 3, 4]);
  });

  it('stops between steps when aborted', async () => {
    let calls = 0;
    await expect(pipeline.generate({ ...base, steps: 5 }, { aborted: () => ++calls > 2 })).rejects.toBeInstanceOf(AbortedError);
    expect(calls).toBe(3);
  });

  it('an edit keeps the pixels outside the mask exactly and repaints inside it', async () => {
    const original: RgbImage = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7) % 256) };
    const mask = new Uint8Array(64 * 64);
    for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) mask[y * 64 + x] = 255;
    const out = await pipeline.generate({ ...base, steps: 4, init: { image: original, mask, strength: 0.75 } });
    let keptSame = 0;
    let paintedDiff = 0;
    for (let p = 0; p < 64 * 64; p++) {
      const same = [0, 1, 2].every((c) => out.image.data[p * 3 + c] === original.data[p * 3 + c]);
      if (mask[p] === 0 && same) keptSame++;
      if (mask[p] === 255 && !same) paintedDiff++;
    }
    expect(keptSame).toBe(64 * 64 - 32 * 32);
    expect(paintedDiff).toBeGreaterThan(32 * 32 * 0.9);
    // strength below 1 runs that share of the steps (diffusers' img2img get_timesteps).
    expect(out.steps).toBe(3);
  });

  it('encodes and decodes through sharp in every output format', async () => {
    const { image } = await pipeline.generate(base);
    for (const format of ['png', 'jpeg', 'webp'] as const) {
      const bytes = await encodeImage(image, format, 80, 'auto');
      const info = await inspectImage(bytes, 'image');
      expect([info.format, info.width, info.height]).toEqual([format, 64, 64]);
      const back = await decodeImage(bytes, 32, 32);
      expect(back.data.length).toBe(32 * 32 * 3);
    }
    const transparent = await inspectImage(await encodeImage(image, 'png', 100, 'transparent'), 'image');
    expect(transparent.hasAlpha).toBe(true);
    await expect(inspectImage(Buffer.from('GIF89a not really'), 'image')).rejects.toThrow(/not an image/);
  });
});
