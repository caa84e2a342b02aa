/**
 * Image generation end to end: /v1/images/generations, /edits and /variations through the gateway,
 * BullMQ and a real onnx worker running a generated random-weight Stable Diffusion pipeline (CLIP
 * text encoder, UNet, VAE) on ONNX Runtime, with the official openai client as the caller. Images
 * are decoded back with sharp; bodies and streamed events are checked against OpenAI's OpenAPI
 * schemas; `url` images are fetched from a second gateway replica.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { generateDiffusionPipeline } from '@switchyard/model-gen';
import { waitUntil } from '@switchyard/runtime';
import { expectOpenAIError, type JsonAnswer } from './support/errors';
import { OPENAPI_FILE, openapiAvailable, schemaErrors } from './support/openapi';
import { itIf } from './support/skip';
import { busySlots, startStack, tinyOnnxModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

const MODEL = 'tiny-diffusion';

/** The body as given, with the extras (seed, steps, ...) the SDK's types do not list. */
type Extra = Record<string, unknown>;

async function pixels(b64OrBytes: string | Buffer): Promise<{ data: Buffer; width: number; height: number; format: string | undefined }> {
  const bytes = typeof b64OrBytes === 'string' ? Buffer.from(b64OrBytes, 'base64') : b64OrBytes;
  const meta = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, format: meta.format };
}

/** A test picture: smooth gradients (so a repainted region is plain to see), as PNG. */
async function picture(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      raw[p] = Math.round((255 * x) / width);
      raw[p + 1] = Math.round((255 * y) / height);
      raw[p + 2] = 128;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** OpenAI's mask: transparent where to edit (here a centred square of half the side), opaque elsewhere. */
async function centreMask(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 4, 255);
  for (let y = height / 4; y < (3 * height) / 4; y++) for (let x = width / 4; x < (3 * width) / 4; x++) raw[(y * width + x) * 4 + 3] = 0;
  return sharp(raw, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

describe('images: /v1/images/generations, edits and variations (e2e)', () => {
  let root: string;
  let stack: Stack;
  let client: OpenAI;
  const withSchemas = itIf(openapiAvailable(), `OpenAI's OpenAPI file (${OPENAPI_FILE})`);

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'switchyard-images-e2e-'));
    const pipeline = generateDiffusionPipeline({ dir: join(root, 'tiny-diffusion'), shape: 'tiny', seed: 1 });
    const embedDir = tinyOnnxModel('tiny-embed', { task: 'embeddings', seed: 3 });
    stack = await startStack({
      models: [],
      workers: 0,
      gatewayEnv: { IMAGE_MAX_FILE_BYTES: String(2 * 1024 * 1024) },
      onnxModels: [
        {
          name: MODEL,
          aliases: ['gpt-image-1', 'dall-e-2'],
          task: 'image-generation',
          path: pipeline.dir,
          threads: 1,
          default_size: '256x256',
          max_side: 1536,
          guidance_scale: 1,
          quality_steps: { low: 1, medium: 2, high: 4 },
          max_steps: 400,
        },
        { name: 'tiny-embed', task: 'embeddings', path: embedDir },
      ],
    });
    client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function post(path: string, body: Extra): Promise<JsonAnswer> {
    const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  }

  async function form(path: string, fields: Record<string, string>, files: Record<string, Buffer>): Promise<JsonAnswer> {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    for (const [k, v] of Object.entries(files)) body.append(k, new Blob([new Uint8Array(v)]), `${k}.png`);
    const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', body });
    return { status: res.status, json: await res.json() };
  }

  const generate = (body: Extra): Promise<OpenAI.ImagesResponse> => client.images.generate({ model: 'gpt-image-1', prompt: 'a red fox in the snow', ...body } as unknown as OpenAI.ImageGenerateParamsNonStreaming);

  describe('generations', () => {
    it('gpt-image-1 answers b64 PNGs of the default size, with usage, as OpenAI shapes them', async () => {
      const res = await generate({ n: 2, seed: 5 });
      expect(res.data).toHaveLength(2);
      const [a, b] = await Promise.all(res.data!.map((d) => pixels(d.b64_json!)));
      expect([a!.format, a!.width, a!.height]).toEqual(['png', 256, 256]);
      // Image i of a request uses seed + i: two different images.
      expect(a!.data.equals(b!.data)).toBe(false);
      expect(res).toMatchObject({ output_format: 'png', quality: 'medium', background: 'opaque', usage: { input_tokens: expect.any(Number), output_tokens: 2 * Math.round((1056 * 256 * 256) / (1024 * 1024)) } });
      expect(res.usage!.input_tokens).toBeGreaterThan(2);
      if (openapiAvailable()) expect(schemaErrors('ImagesResponse', res)).toEqual([]);
    });

    it('the same seed makes the same image, another seed another; steps, guidance and negative prompt are used', async () => {
      const one = await generate({ seed: 42, quality: 'low' });
      const again = await generate({ seed: 42, quality: 'low' });
      const other = await generate({ seed: 43, quality: 'low' });
      expect(one.data![0]!.b64_json).toBe(again.data![0]!.b64_json);
      expect(one.data![0]!.b64_json).not.toBe(other.data![0]!.b64_json);
      const stepped = await generate({ seed: 42, steps: 3 });
      const guided = await generate({ seed: 42, quality: 'low', guidance_scale: 4, negative_prompt: 'blurry' });
      const ddim = await generate({ seed: 42, quality: 'low', scheduler: 'ddim' });
      for (const r of [stepped, guided, ddim]) expect(r.data![0]!.b64_json).not.toBe(one.data![0]!.b64_json);
    });

    it('sizes: 1024x1024, 1536x1024 and any multiple of 8 the model allows', async () => {
      for (const [size, w, h] of [
        ['1024x1024', 1024, 1024],
        ['1536x1024', 1536, 1024],
        ['136x64', 136, 64],
      ] as const) {
        const res = await generate({ size, quality: 'low' });
        const p = await pixels(res.data![0]!.b64_json!);
        expect([p.width, p.height]).toEqual([w, h]);
        // Sizes outside OpenAI's list are not named in the body.
        expect(res.size).toBe(size === '136x64' ? undefined : size);
      }
    });

    it('output formats: jpeg and webp at output_compression, transparent png with alpha', async () => {
      for (const format of ['jpeg', 'webp'] as const) {
        const res = await generate({ quality: 'low', output_format: format, output_compression: 50 });
        expect(res.output_format).toBe(format);
        expect((await pixels(res.data![0]!.b64_json!)).format).toBe(format);
      }
      const clear = await generate({ quality: 'low', background: 'transparent' });
      expect(clear.background).toBe('transparent');
      expect((await sharp(Buffer.from(clear.data![0]!.b64_json!, 'base64')).metadata()).hasAlpha).toBe(true);
    });

    it("dall-e-2's url answer is served by any gateway replica, for a while, and only by its unguessable name", async () => {
      const res = await client.images.generate({ model: 'dall-e-2', prompt: 'a lighthouse', n: 2, size: '256x256' });
      expect(res.data).toHaveLength(2);
      const url = res.data![0]!.url!;
      expect(url).toMatch(new RegExp(`^${stack.baseUrl}/v1/images/files/[A-Za-z0-9_-]{24}\\.png$`));
      expect(res.data![0]!.b64_json).toBeUndefined();
      const replica = await stack.addGateway();
      const fetched = await fetch(url.replace(stack.baseUrl, replica));
      expect(fetched.status).toBe(200);
      expect(fetched.headers.get('content-type')).toBe('image/png');
      expect((await pixels(Buffer.from(await fetched.arrayBuffer()))).width).toBe(256);
      const missing = await fetch(`${replica}/v1/images/files/AAAAAAAAAAAAAAAAAAAAAAAA.png`);
      expect(missing.status).toBe(404);
      // And b64_json when asked for.
      const b64 = await client.images.generate({ model: 'dall-e-2', prompt: 'a lighthouse', response_format: 'b64_json' });
      expect(b64.data![0]!.b64_json).toBeDefined();
    });

    it('four concurrent requests are all answered', async () => {
      const answers = await Promise.all([1, 2, 3, 4].map((seed) => generate({ seed, quality: 'low' })));
      const images = answers.map((a) => a.data![0]!.b64_json);
      expect(new Set(images).size).toBe(4);
    });
  });

  describe('streaming', () => {
    withSchemas('partial images then the completed image, in OpenAI event shapes', async () => {
      const stream = await client.images.generate({ model: 'gpt-image-1', prompt: 'a tree', stream: true, partial_images: 2, steps: 4, size: '1024x1024', quality: 'low' } as unknown as OpenAI.ImageGenerateParamsStreaming);
      const events: Array<{ type: string } & Extra> = [];
      for await (const event of stream) events.push(event as unknown as { type: string } & Extra);
      expect(events.map((e) => e.type)).toEqual(['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
      expect(events.slice(0, 2).map((e) => e.partial_image_index)).toEqual([0, 1]);
      expect(schemaErrors('ImageGenPartialImageEvent', events[0])).toEqual([]);
      expect(schemaErrors('ImageGenCompletedEvent', events[2])).toEqual([]);
      expect(events[2]).toMatchObject({ size: '1024x1024', quality: 'low', output_format: 'png' });
      expect((await pixels(events[2]!.b64_json as string)).width).toBe(1024);
      // A preview is an image of the same size that is not the final one.
      expect((await pixels(events[0]!.b64_json as string)).width).toBe(1024);
      expect(events[0]!.b64_json).not.toBe(events[2]!.b64_json);
    });

    withSchemas('edits stream image_edit events', async () => {
      const stream = await client.images.edit({
        model: 'gpt-image-1',
        prompt: 'paint a sun',
        image: await toFile(await picture(128, 128), 'in.png', { type: 'image/png' }),
        stream: true,
        partial_images: 1,
        steps: 3,
      } as unknown as OpenAI.ImageEditParamsStreaming);
      const events: Array<{ type: string } & Extra> = [];
      for await (const event of stream) events.push(event as unknown as { type: string } & Extra);
      expect(events.map((e) => e.type)).toEqual(['image_edit.partial_image', 'image_edit.completed']);
      expect(schemaErrors('ImageEditPartialImageEvent', events[0])).toEqual([]);
      expect(schemaErrors('ImageEditCompletedEvent', events[1])).toEqual([]);
    });
  });

  describe('edits and variations', () => {
    it('an edit repaints inside the mask and keeps the pixels outside it', async () => {
      const original = await picture(128, 128);
      const res = await client.images.edit({
        model: 'gpt-image-1',
        prompt: 'a window in the wall',
        image: await toFile(original, 'in.png', { type: 'image/png' }),
        mask: await toFile(await centreMask(128, 128), 'mask.png', { type: 'image/png' }),
        size: '128x128' as '1024x1024',
        steps: 4,
      } as unknown as OpenAI.ImageEditParamsNonStreaming);
      if (openapiAvailable()) expect(schemaErrors('ImagesResponse', res)).toEqual([]);
      const out = await pixels(res.data![0]!.b64_json!);
      const src = await pixels(original);
      let outsideOff = 0;
      let insideChanged = 0;
      for (let y = 0; y < 128; y++) {
        for (let x = 0; x < 128; x++) {
          const p = (y * 128 + x) * 3;
          const diff = Math.max(...[0, 1, 2].map((c) => Math.abs(out.data[p + c]! - src.data[p + c]!)));
          const inside = x >= 32 && x < 96 && y >= 32 && y < 96;
          if (!inside && diff > 2) outsideOff++;
          if (inside && diff > 8) insideChanged++;
        }
      }
      expect(outsideOff).toBe(0);
      expect(insideChanged).toBeGreaterThan(64 * 64 * 0.5);
    });

    it('without a mask the image is redrawn from itself; a variation keeps its size', async () => {
      const original = await picture(128, 128);
      const edit = await client.images.edit({ model: 'gpt-image-1', prompt: 'autumn', image: await toFile(original, 'in.png', { type: 'image/png' }), size: '128x128' } as unknown as OpenAI.ImageEditParamsNonStreaming);
      expect((await pixels(edit.data![0]!.b64_json!)).data.equals((await pixels(original)).data)).toBe(false);
      const variation = await client.images.createVariation({ model: 'dall-e-2', image: await toFile(original, 'in.png', { type: 'image/png' }), n: 2, size: '128x128' as '256x256', response_format: 'b64_json' });
      expect(variation.data).toHaveLength(2);
      expect((await pixels(variation.data![0]!.b64_json!)).width).toBe(128);
      if (openapiAvailable()) expect(schemaErrors('ImagesResponse', variation)).toEqual([]);
    });
  });

  describe('bad input', () => {
    it.each([
      ['an empty prompt', { prompt: '  ' }, 'prompt'],
      ['a size that is not WxH', { size: 'big' }, 'size'],
      ['a size that is not a multiple of 8', { size: '100x100' }, 'size'],
      ['a size above the largest side', { size: '2048x2048' }, 'size'],
      ['n of 11', { n: 11 }, 'n'],
      ['n of 0', { n: 0 }, 'n'],
      ['an unknown output_format', { output_format: 'gif' }, 'output_format'],
      ['an unknown response_format', { response_format: 'xml' }, 'response_format'],
      ['an unknown quality', { quality: 'ultra' }, 'quality'],
      ['an unknown scheduler', { scheduler: 'magic' }, 'scheduler'],
      ['steps above the model limit', { steps: 401 }, 'steps'],
      ['a transparent jpeg', { background: 'transparent', output_format: 'jpeg' }, 'background'],
      ['partial_images without stream', { partial_images: 2 }, 'partial_images'],
      ['a prompt over 4000 characters', { prompt: 'x'.repeat(4001) }, 'prompt'],
    ])('%s is a 400 on its field', async (_what, body, param) => {
      expectOpenAIError(await post('/v1/images/generations', { model: 'gpt-image-1', prompt: 'a cat', ...body }), 400, param);
    });

    it('answers 200 with JSON, as OpenAI does (not Nest\'s 201 for a POST)', async () => {
      const ok = await post('/v1/images/generations', { model: 'gpt-image-1', prompt: 'a cat', quality: 'low' });
      expect(ok.status).toBe(200);
      expect(ok.json.data).toHaveLength(1);
      const edit = await form('/v1/images/variations', { size: '64x64' }, { image: await picture(64, 64) });
      expect(edit.status).toBe(200);
    });

    it('an unknown model is a 404, a model of another kind a 400', async () => {
      expectOpenAIError(await post('/v1/images/generations', { model: 'nope', prompt: 'a cat' }), 404, 'model');
      expectOpenAIError(await post('/v1/images/generations', { model: 'tiny-embed', prompt: 'a cat' }), 400, 'model');
    });

    it('edit uploads: not an image, over the size limit, a mask of another size or without alpha, no image at all', async () => {
      const png = await picture(64, 64);
      expectOpenAIError(await form('/v1/images/edits', { prompt: 'x' }, { image: Buffer.from('just some text, not a picture') }), 400, 'image');
      const big = await sharp({ create: { width: 1200, height: 1200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png({ compressionLevel: 0 }).toBuffer();
      expect(big.length).toBeGreaterThan(2 * 1024 * 1024);
      expectOpenAIError(await form('/v1/images/edits', { prompt: 'x' }, { image: big }), 400, 'image');
      expectOpenAIError(await form('/v1/images/edits', { prompt: 'x' }, { image: png, mask: await centreMask(32, 32) }), 400, 'mask');
      expectOpenAIError(await form('/v1/images/edits', { prompt: 'x' }, { image: png, mask: png }), 400, 'mask');
      expectOpenAIError(await form('/v1/images/edits', { prompt: 'x' }, {}), 400, 'image');
      expectOpenAIError(await form('/v1/images/edits', { prompt: 'x', n: 'many' }, { image: png }), 400, 'n');
      const json = await post('/v1/images/edits', { prompt: 'x' });
      expect(json.status).toBe(400);
      // The worker took none of these: it still answers.
      expect((await generate({ quality: 'low' })).data).toHaveLength(1);
    });
  });

  it('a client that leaves stops the job within a step; progress shows in the heartbeat meanwhile', async () => {
    const controller = new AbortController();
    const pending = fetch(`${stack.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'a long one', size: '512x512', steps: 400 }),
      signal: controller.signal,
    }).catch((err: unknown) => err);
    const redis = new Redis(stack.redis.url);
    try {
      let seen: { step: number; steps: number } | undefined;
      await waitUntil(
        async () => {
          const v = await redis.get('switchyard:worker:onnx-0');
          const model = (JSON.parse(v ?? '{"models":[]}') as { models: Array<{ name: string; progress?: Record<string, { step: number; steps: number }> }> }).models.find((m) => m.name === MODEL);
          // The heartbeat is written every 2 s: until the next one it may still show the job before
          // this one (a few steps), so look for this job's own entry (its 400 steps).
          seen = Object.values(model?.progress ?? {}).find((p) => p.steps === 400);
          return seen !== undefined && seen.step >= 2;
        },
        20_000,
        'progress in the heartbeat',
        stack.logs,
      );
      expect(seen!.step).toBeLessThan(400);
      controller.abort();
      await pending;
      const aborted = Date.now();
      await waitUntil(async () => (await busySlots(stack, MODEL)) === 0, 20_000, 'the cancelled job to let go', stack.logs);
      // One 512x512 step of the tiny UNet is about 0.1 s (more on a loaded machine); the rest of 400
      // steps would take over 30 s. The slot shows free at the next heartbeat (every 2 s).
      expect(Date.now() - aborted).toBeLessThan(10_000);
    } finally {
      redis.disconnect();
    }
    expect((await generate({ quality: 'low' })).data).toHaveLength(1);
  });
});
