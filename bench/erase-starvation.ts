/**
 * Reproduces a node-llama-cpp behaviour that delays new requests under load: erasing tokens from one
 * sequence (which the llm worker does before every job, to drop the previous job's tokens past the
 * shared prefix) waits for the context lock, and the batch dispatcher keeps that lock for as long as
 * any decode is queued. With two or more sequences generating, that is until they have all finished.
 *
 *   npm run build && node dist/bench/erase-starvation.js [--model FILE] [--generating 2]
 *
 * Uses .bench/smollm2-135m-q8_0.gguf by default (npm run bench generates it).
 */
import { resolve } from 'node:path';
import type * as NodeLlamaCpp from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import type { LlamaContextSequence, LlamaModel } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

async function generate(model: LlamaModel, sequence: LlamaContextSequence, text: string, tokens: number): Promise<void> {
  const iterator = sequence.evaluate(model.tokenize(text), { temperature: 0 });
  let n = 0;
  try {
    for await (const _token of iterator) if (++n >= tokens) break;
  } finally {
    await iterator.return(undefined);
  }
}

async function main(): Promise<void> {
  const modelPath = resolve(flag('model', resolve(__dirname, '..', '..', '.bench', 'smollm2-135m-q8_0.gguf')));
  const generating = Number(flag('generating', '2'));
  const lib: typeof NodeLlamaCpp = await import('node-llama-cpp');
  const llama = await lib.getLlama({ build: 'never', gpu: false, logLevel: lib.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: 1024, sequences: generating + 1, threads: 1, batchSize: 512 });
  const sequences = Array.from({ length: generating + 1 }, () => context.getSequence());
  const idle = sequences[generating];
  // The idle sequence holds a previous job's tokens, as a worker's free sequence does.
  await generate(model, idle, 'An earlier request that leaves tokens in the cache.', 8);

  const t0 = performance.now();
  const running = sequences.slice(0, generating).map(async (s, i) => {
    await generate(model, s, `Stream ${i}: tell me a story.`, 64);
    console.log(`generating sequence ${i} finished at ${(performance.now() - t0).toFixed(0)} ms`);
  });
  await new Promise((r) => setTimeout(r, 500));
  const e0 = performance.now();
  await idle.eraseContextTokenRanges([{ start: 0, end: idle.nextTokenIndex }]);
  console.log(
    `with ${generating} sequence(s) generating, erasing an idle sequence took ${(performance.now() - e0).toFixed(0)} ms ` +
      `(asked at 500 ms, done at ${(performance.now() - t0).toFixed(0)} ms)`,
  );
  await Promise.all(running);
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
