/**
 * Time to first token for a request that arrives while three others are generating on the same
 * model (parallel 4): the case node-llama-cpp's erase lock used to stall for seconds (see
 * libs/llama/src/decode-gate.ts and bench/erase-starvation.ts). Prints the probe's TTFT and the
 * background streams' total times per run.
 *
 *   npm run build && node dist/bench/ttft-under-load.js [--model FILE] [--runs N] [--threads N]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateLlamaModel } from '@switchyard/model-gen';
import { median } from './bench-stats';
import { GatewayStack } from './gateway-runner';

const ROOT = resolve(__dirname, '..', '..');

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

async function timed(baseUrl: string, prompt: string, maxTokens: number): Promise<{ first: number; total: number }> {
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'bench', prompt, max_tokens: maxTokens, temperature: 0, stream: true }),
  });
  if (!res.ok || !res.body) throw new Error(`${res.status} ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let first = Number.NaN;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (Number.isNaN(first) && decoder.decode(value).includes('"text":"')) first = performance.now() - t0;
  }
  return { first, total: performance.now() - t0 };
}

async function main(): Promise<void> {
  const modelPath = resolve(flag('model', join(ROOT, '.bench', 'smollm2-135m.gguf')));
  if (!existsSync(modelPath)) await generateLlamaModel({ shape: 'smollm2-135m', path: modelPath, seed: 1 });
  const runs = Number(flag('runs', '5'));
  const stack = await GatewayStack.start({ root: ROOT, modelName: 'bench', modelPath, contextSize: 1024, parallel: 4, threads: Number(flag('threads', '1')) });
  const probes: number[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      // Distinct prompts: every sequence has to erase the previous run's tokens before it starts.
      const background = [1, 2, 3].map((i) => timed(stack.baseUrl, `Background ${r}.${i}: a story about a ship`, 150));
      await new Promise((done) => setTimeout(done, 1500));
      const probe = await timed(stack.baseUrl, `Probe ${r}: write about a lighthouse`, 5);
      const totals = await Promise.all(background);
      probes.push(probe.first);
      console.log(`run ${r}: probe TTFT ${probe.first.toFixed(0)} ms; background streams took ${totals.map((t) => t.total.toFixed(0)).join(', ')} ms`);
    }
  } finally {
    await stack.stop();
  }
  console.log(`median probe TTFT over ${runs} runs: ${median(probes).toFixed(0)} ms`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
