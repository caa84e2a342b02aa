/**
 * `switchyard-runner`: serves models on this machine through a gateway that may be far away (behind
 * NAT: the runner dials out). Models come from flags (one GGUF file, or one model of a local
 * OpenAI-compatible server) or from a models file in the gateway's format.
 *
 *   RUNNER_TOKEN=... node dist/apps/runner/src/main.js --gateway gw.example.com:50051 --tls \
 *     --gguf ./model.gguf --model my-model --threads 4
 *   RUNNER_TOKEN=... node dist/apps/runner/src/main.js --gateway 10.0.0.5:50051 \
 *     --openai-url http://127.0.0.1:11434/v1 --model llama3.2 [--upstream-model llama3.2:1b]
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { LlamaCppModelDescriptor, ModelDescriptor, UpstreamModelDescriptor } from '@switchyard/contracts';
import { assertHandlesKinds, EnvError, loadEnv, loadModelsFile, Logger, ModelsFileError, parseModelsYaml, RunnerRefused } from '@switchyard/runtime';
import { importNodeLlamaCpp, LlamaJobEngine } from '@switchyard/llama';
import { UpstreamJobEngine } from '@switchyard/upstream';
import { RunnerConnection } from './runner-connection';
import { RunnerEnv } from './runner-config';
import { RunnerModel } from './runner-model';

const USAGE = `usage: runner --gateway HOST:PORT [--tls [--tls-ca FILE]] [--name NAME]
              (--models FILE | --gguf FILE --model NAME [--threads N] [--parallel N] [--context-size N]
                             | --openai-url URL --model NAME [--upstream-model ID] [--api-key-env VAR] [--parallel N])
The token is read from RUNNER_TOKEN. Every flag has an environment twin (see README).`;

/** One model from flags, written as a models-file entry so it is validated the same way. */
function modelFromFlags(v: Record<string, string | boolean | undefined>): ModelDescriptor[] | undefined {
  const entry: Record<string, unknown> = { name: v.model };
  if (typeof v.gguf === 'string') {
    Object.assign(entry, { path: resolve(v.gguf), threads: Number(v.threads ?? 2), parallel: Number(v.parallel ?? 2), context_size: Number(v['context-size'] ?? 4096) });
  } else if (typeof v['openai-url'] === 'string') {
    Object.assign(entry, { backend: 'upstream', base_url: v['openai-url'], concurrency: Number(v.parallel ?? 4) });
    if (typeof v['upstream-model'] === 'string') entry.upstream_model = v['upstream-model'];
    if (typeof v['api-key-env'] === 'string') entry.api_key_env = v['api-key-env'];
    if (typeof v['context-size'] === 'string') entry.context_length = Number(v['context-size']);
  } else {
    return undefined;
  }
  if (typeof v.model !== 'string') throw new ModelsFileError('--model NAME is required with --gguf or --openai-url');
  return parseModelsYaml(JSON.stringify({ models: [entry] }), process.cwd());
}

async function main(): Promise<void> {
  assertHandlesKinds('runner', [...LlamaJobEngine.kinds, ...UpstreamJobEngine.kinds]);
  const { values } = parseArgs({
    options: {
      gateway: { type: 'string' },
      name: { type: 'string' },
      tls: { type: 'boolean' },
      'tls-ca': { type: 'string' },
      models: { type: 'string' },
      gguf: { type: 'string' },
      'openai-url': { type: 'string' },
      model: { type: 'string' },
      'upstream-model': { type: 'string' },
      'api-key-env': { type: 'string' },
      threads: { type: 'string' },
      parallel: { type: 'string' },
      'context-size': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const env = loadEnv(RunnerEnv, {
    ...process.env,
    ...(values.gateway ? { RUNNER_GATEWAY: values.gateway } : {}),
    ...(values.name ? { RUNNER_NAME: values.name } : {}),
    ...(values.tls ? { RUNNER_TLS: 'true' } : {}),
    ...(values['tls-ca'] ? { RUNNER_TLS_CA: values['tls-ca'] } : {}),
    ...(values.models ? { RUNNER_MODELS_FILE: values.models } : {}),
  });
  const log = new Logger('runner', env.LOG_LEVEL);
  if (!env.RUNNER_TOKEN) throw new EnvError('RUNNER_TOKEN is required (one of the gateway\'s RUNNER_TOKENS)');
  const models = modelFromFlags(values) ?? (env.RUNNER_MODELS_FILE ? loadModelsFile(env.RUNNER_MODELS_FILE) : undefined);
  if (!models || models.length === 0) throw new EnvError(`no models to serve\n${USAGE}`);
  const served: RunnerModel<{ kind: string }>[] = [];
  const gguf = models.filter((m): m is LlamaCppModelDescriptor => m.backend === 'llama.cpp');
  const upstream = models.filter((m): m is UpstreamModelDescriptor => m.backend === 'upstream');
  let dispose = async (): Promise<void> => undefined;
  if (gguf.length > 0) {
    const lib = await importNodeLlamaCpp();
    const gpu = env.LLAMA_GPU === 'false' ? false : env.LLAMA_GPU;
    const llama = await lib.getLlama({ build: 'never', gpu: gpu as 'auto', logLevel: lib.LlamaLogLevel.error });
    for (const d of gguf) {
      const model = new RunnerModel({ name: d.name, format: 'llm', parallel: d.parallel, contextSize: d.contextSize }, new LlamaJobEngine(d, lib, llama), env.RUNNER_NAME, log);
      await model.load();
      served.push(model);
    }
    dispose = () => llama.dispose();
  }
  for (const d of upstream) {
    served.push(new RunnerModel({ name: d.name, format: 'upstream', parallel: d.concurrency, contextSize: d.contextSize }, new UpstreamJobEngine(d, log, { code: 'runner_failed', message: 'The runner failed while serving this request.' }), env.RUNNER_NAME, log));
  }
  const connection = new RunnerConnection({
    gateway: env.RUNNER_GATEWAY,
    token: env.RUNNER_TOKEN,
    name: env.RUNNER_NAME,
    tls: env.RUNNER_TLS === 'true',
    caFile: env.RUNNER_TLS_CA,
    models: served,
    log,
  });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('stopping: finishing running requests', { running: connection.busy });
    await connection.stop(20_000);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  try {
    await connection.run();
  } finally {
    await Promise.allSettled(served.map((m) => m.dispose()));
    await dispose();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof RunnerRefused) {
      process.stderr.write(`runner: the gateway refused this runner (${err.code}): ${err.message}\n`);
      process.exit(2);
    }
    const known = err instanceof EnvError || err instanceof ModelsFileError;
    process.stderr.write(`runner: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
    process.exit(1);
  },
);
