/**
 * What the chat features cost in decode speed: the same model and prompt streamed through the full
 * stack plain and with logprobs, a GBNF grammar, a JSON schema and a forced tool call, interleaved
 * run by run so machine noise hits every variant alike. Reports median decode tokens/s per variant
 * and its ratio to plain.
 *
 *   npm run bench:features -- [--shape smollm2-135m|qwen2.5-0.5b|tiny] [--threads N] [--runs N] [--max-tokens N]
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateLlamaModel, type LlamaShapeName } from '@switchyard/model-gen';
import { fmt, median } from './bench-stats';
import { GatewayStack } from './gateway-runner';

const ROOT = resolve(__dirname, '..', '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : (process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] ?? def);
}

const tool = {
  type: 'function',
  function: {
    name: 'record',
    parameters: {
      type: 'object',
      properties: { notes: { type: 'array', items: { type: 'string', enum: ['alpha', 'beta', 'gamma', 'delta'] } } },
      required: ['notes'],
    },
  },
};

/** Request fields per variant, added to the same chat request. */
const VARIANTS: Record<string, object> = {
  plain: {},
  'logprobs (top 0)': { logprobs: true },
  'logprobs (top 5)': { logprobs: true, top_logprobs: 5 },
  'logprobs (top 20)': { logprobs: true, top_logprobs: 20 },
  'grammar [a-z ]+': { grammar: 'root ::= [a-z ]+' },
  json_schema: {
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'r', schema: { type: 'object', properties: { words: { type: 'array', items: { type: 'string' } } }, required: ['words'] } },
    },
  },
  'forced tool call': { tools: [tool], tool_choice: 'required' },
  // Strict structured output: numeric bounds, a pattern, a format and a bounded array, all enforced.
  'json_schema strict (bounds, pattern, format)': {
    response_format: {
      type: 'json_schema',
      json_schema: {
        name: 'r',
        strict: true,
        schema: {
          type: 'object',
          properties: {
            age: { type: 'integer', minimum: 18, maximum: 65 },
            code: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2}$' },
            day: { type: 'string', format: 'date' },
            words: { type: 'array', items: { type: 'string', maxLength: 12 }, maxItems: 40 },
          },
          required: ['age', 'code', 'day', 'words'],
          additionalProperties: false,
        },
      },
    },
  },
};

interface Sample {
  tokens: number;
  decodeTps: number;
}

async function timedStream(baseUrl: string, model: string, extra: object, maxTokens: number, run: number): Promise<Sample> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      messages: [{ role: 'user', content: `Request ${run}. Write a long list of short words.` }],
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      ...extra,
    }),
  });
  if (!res.ok || !res.body) throw new Error(`${res.status} ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let first = Number.NaN;
  let last = Number.NaN;
  let tokens = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const now = performance.now();
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const data = buffer.slice(6, cut);
      buffer = buffer.slice(cut + 2);
      if (data === '[DONE]') continue;
      const chunk = JSON.parse(data) as { choices: Array<{ delta: Record<string, unknown> }>; usage?: { completion_tokens: number } | null };
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      const d = chunk.choices[0]?.delta;
      if (d && (d.content || d.tool_calls)) {
        if (Number.isNaN(first)) first = now;
        last = now;
      }
    }
  }
  return { tokens, decodeTps: (tokens - 1) / ((last - first) / 1000) };
}

async function main(): Promise<void> {
  const shape = arg('shape', 'smollm2-135m') as LlamaShapeName;
  const threads = Number(arg('threads', '1'));
  const runs = Number(arg('runs', '3'));
  const maxTokens = Number(arg('max-tokens', '96'));
  const dir = join(ROOT, '.bench');
  mkdirSync(dir, { recursive: true });
  const modelPath = join(dir, `${shape}.gguf`);
  if (!existsSync(modelPath)) await generateLlamaModel({ shape, path: modelPath, seed: 1 });
  const stack = await GatewayStack.start({ root: ROOT, modelName: 'bench', modelPath, contextSize: 2048, parallel: 1, threads });
  const results = new Map<string, Sample[]>(Object.keys(VARIANTS).map((k) => [k, []]));
  try {
    for (const extra of Object.values(VARIANTS)) await timedStream(stack.baseUrl, 'bench', extra, 8, -1); // warm-up
    for (let run = 0; run < runs; run++) {
      const names = Object.keys(VARIANTS);
      if (run % 2 === 1) names.reverse();
      for (const name of names) results.get(name)!.push(await timedStream(stack.baseUrl, 'bench', VARIANTS[name], maxTokens, run));
    }
  } finally {
    await stack.stop();
  }
  const plain = median(results.get('plain')!.map((s) => s.decodeTps));
  console.log(`\n${shape}, ${threads} thread(s), ${runs} runs, max_tokens ${maxTokens}, temperature 0\n`);
  console.log('| variant | decode tok/s (median) | vs plain | tokens (median) |');
  console.log('|---|---|---|---|');
  for (const [name, samples] of results) {
    const tps = median(samples.map((s) => s.decodeTps));
    console.log(`| ${name} | ${fmt(tps)} | ${fmt(tps / plain, 2)}× | ${median(samples.map((s) => s.tokens))} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
