/**
 * The gRPC endpoint remote runners dial (RUNNER_GRPC_PORT; TLS with RUNNER_TLS_CERT/KEY). A runner
 * opens one bidirectional stream, says hello with its token and models, and then serves jobs on it
 * (RunnerSession). Runner tokens are not API keys; a wrong one is refused and logged without it.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type Redis from 'ioredis';
import { controlReplyChannel, workerControlChannel, type RunnerJobFormat, type RunnerModelDescriptor } from '@switchyard/contracts';
import {
  CancelListener,
  createRedis,
  fixedModelsReply,
  Logger,
  RUNNER_CHANNEL_OPTIONS,
  RUNNER_SILENCE_LIMIT_MS,
  RunnerRefused,
  runnerService,
  splitList,
  type RunnerMessage,
  type RunnerServerStream,
} from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { ModelCatalogService } from '../core/model-catalog.service';
import { RunnerSession } from './runner-session';
import { WorkerRegistry } from '../core/worker-registry.service';

const HELLO_TIMEOUT_MS = 10_000;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;
const RUNNER_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const FORMATS: RunnerJobFormat[] = ['llm', 'upstream'];

/**
 * A name the runner sent, fit for a log line or a refusal: an unauthenticated peer chooses it, so it
 * is capped and reduced to the characters a valid name may have.
 */
export function printableName(name: unknown, max = 64): string {
  const s = typeof name === 'string' ? name : '';
  const shown = s.slice(0, max).replace(/[^A-Za-z0-9._:/@+-]/g, '?');
  return s.length > max ? `${shown}... (${s.length} chars)` : shown;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

@Injectable()
export class RunnerGatewayService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('gateway.runners');
  private server: grpc.Server | undefined;
  private readonly sessions = new Set<RunnerSession>();
  private readonly tokens: Buffer[];
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;
  private cancels: CancelListener | undefined;
  /** The port actually bound (RUNNER_GRPC_PORT), once listening. */
  port: number | undefined;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly registry: WorkerRegistry,
  ) {
    this.tokens = splitList(env.RUNNER_TOKENS).map(digest);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.env.RUNNER_GRPC_PORT === undefined) return;
    if (this.tokens.length === 0) throw new Error('RUNNER_GRPC_PORT is set but RUNNER_TOKENS is empty: no runner could authenticate');
    this.publisher = createRedis(this.env.REDIS_URL, 'switchyard-gateway-runners');
    this.subscriber = createRedis(this.env.REDIS_URL, 'switchyard-gateway-runners-sub');
    this.cancels = new CancelListener(this.subscriber);
    await this.cancels.start();
    // Admin load/unload sent to a runner: its models are served while it is connected, not unloadable.
    this.subscriber.on('message', (channel: string, message: string) => {
      const s = [...this.sessions].find((x) => workerControlChannel(x.id) === channel);
      if (!s) return;
      const reply = fixedModelsReply(
        message,
        (model) => s.models.some((m) => m.name === model),
        (model) => `'${model}' is served by the remote runner '${s.runnerName}': stop the runner to remove it.`,
      );
      if (reply) void this.publisher?.publish(controlReplyChannel(reply.requestId), JSON.stringify(reply)).catch(() => undefined);
    });
    const server = new grpc.Server({
      ...RUNNER_CHANNEL_OPTIONS,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    });
    server.addService(runnerService().service, { Connect: (call: RunnerServerStream) => this.accept(call) });
    const tls = this.env.RUNNER_TLS_CERT !== undefined && this.env.RUNNER_TLS_KEY !== undefined;
    const credentials = tls
      ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(this.env.RUNNER_TLS_CERT!), private_key: readFileSync(this.env.RUNNER_TLS_KEY!) }], false)
      : grpc.ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.env.RUNNER_GRPC_HOST}:${this.env.RUNNER_GRPC_PORT}`, credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
    if (!tls) this.log.warn('runner endpoint without TLS: set RUNNER_TLS_CERT and RUNNER_TLS_KEY for anything beyond a private network');
    this.log.info('runner endpoint listening', { port: this.port, tls, tokens: this.tokens.length });
  }

  private authorized(token: string): boolean {
    const d = digest(token);
    let ok = false;
    for (const t of this.tokens) ok = timingSafeEqual(t, d) || ok;
    return ok;
  }

  private accept(call: RunnerServerStream): void {
    const peer = call.getPeer();
    let session: RunnerSession | undefined;
    let lastHeard = Date.now();
    const helloTimer = setTimeout(() => refuse(new RunnerRefused('invalid_hello', 'No hello within 10 s.')), HELLO_TIMEOUT_MS);
    const silence = setInterval(() => {
      if (Date.now() - lastHeard > RUNNER_SILENCE_LIMIT_MS) end('silent');
    }, 5_000);
    const end = (reason: string): void => {
      clearTimeout(helloTimer);
      clearInterval(silence);
      if (session) {
        const s = session;
        session = undefined;
        this.sessions.delete(s);
        this.catalog.removeRunner(s.id);
        void this.subscriber?.unsubscribe(workerControlChannel(s.id)).catch(() => undefined);
        void s.close(reason);
      }
      if (!call.destroyed) call.end();
    };
    const refuse = (r: RunnerRefused): void => {
      clearTimeout(helloTimer);
      clearInterval(silence);
      call.write({ kind: 'refused', refused: { code: r.code, message: r.message } });
      call.end();
    };
    call.on('data', (msg: RunnerMessage) => {
      lastHeard = Date.now();
      if (msg.kind === 'hello') {
        if (session) return;
        clearTimeout(helloTimer);
        try {
          session = this.open(call, msg.hello, peer);
        } catch (err) {
          const r = err instanceof RunnerRefused ? err : new RunnerRefused('invalid_hello', (err as Error).message);
          refuse(r);
          return;
        }
        const s = session;
        this.sessions.add(s);
        this.catalog.addRunner(s.id, s.models);
        void this.subscriber?.subscribe(workerControlChannel(s.id)).catch(() => undefined);
        s.start().then(
          () => call.write({ kind: 'welcome', welcome: { runner_id: s.id, models: s.models.map((m) => m.name) } }),
          (err: Error) => {
            this.log.error('runner session failed to start', { runner: s.id, error: err.message });
            end('start failed');
          },
        );
      } else if (msg.kind === 'event') {
        session?.onEvent(msg.event.job_id, msg.event.event_json);
      } else if (msg.kind === 'ping') {
        // Only an authenticated runner gets answers: before its hello, a peer learns nothing.
        if (session) call.write({ kind: 'pong', pong: { at: msg.ping.at } });
      }
    });
    call.on('end', () => end('stream ended'));
    call.on('error', (err: Error) => end(`stream error: ${err.message}`));
    call.on('cancelled', () => end('cancelled'));
    call.on('close', () => end('closed'));
  }

  private open(call: RunnerServerStream, hello: { token: string; runner_name: string; models: Array<{ name: string; format: string; parallel: number; context_size: number }> }, peer: string): RunnerSession {
    const name = hello.runner_name || 'runner';
    if (!this.authorized(hello.token ?? '')) {
      // Never log the token itself.
      this.log.warn('runner refused: wrong token', { peer, name: printableName(name) });
      throw new RunnerRefused('unauthenticated', 'The runner token is not valid.');
    }
    if (!RUNNER_NAME_RE.test(name)) {
      throw new RunnerRefused('invalid_hello', `Runner name '${printableName(name)}' must be 1-64 letters, digits, dots, dashes or underscores.`);
    }
    if (!Array.isArray(hello.models) || hello.models.length === 0) throw new RunnerRefused('invalid_hello', 'A runner must register at least one model.');
    const created = Math.floor(Date.now() / 1000);
    const seen = new Set<string>();
    const models: RunnerModelDescriptor[] = hello.models.map((m) => {
      if (!NAME_RE.test(m.name)) throw new RunnerRefused('invalid_hello', `Model name '${printableName(m.name, 128)}' is not valid.`);
      if (seen.has(m.name)) throw new RunnerRefused('invalid_hello', `Model '${m.name}' is registered twice.`);
      seen.add(m.name);
      const format = m.format as RunnerJobFormat;
      if (!FORMATS.includes(format)) throw new RunnerRefused('invalid_hello', `Model '${m.name}': format must be llm or upstream.`);
      if (this.catalog.fileModel(m.name)) throw new RunnerRefused('model_conflict', `Model name '${m.name}' belongs to a model of the gateway's models file.`);
      const other = this.catalog.find(m.name);
      if (other && other.backend === 'runner' && other.format !== format) {
        throw new RunnerRefused('model_conflict', `Model '${m.name}' is already served by another runner with format '${other.format}'.`);
      }
      const parallel = Math.min(256, Math.max(1, Math.floor(m.parallel || 1)));
      return {
        name: m.name,
        aliases: [],
        backend: 'runner',
        format,
        parallel,
        contextSize: Math.max(0, Math.floor(m.context_size || 0)),
        maxQueue: this.env.RUNNER_MAX_QUEUE,
        autoLoad: false,
        preload: false,
        keepAliveMs: -1,
        created,
        ownedBy: `runner:${name}`,
      };
    });
    const id = `runner-${name}-${randomBytes(3).toString('hex')}`;
    this.log.info('runner connected', { runner: id, peer, models: models.map((m) => `${m.name} (${m.format}, ${m.parallel} slots)`) });
    return new RunnerSession(id, name, models, call, {
      redisUrl: this.env.REDIS_URL,
      publisher: this.publisher!,
      cancels: this.cancels!,
      registry: this.registry,
      log: this.log,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.sessions].map((s) => s.close('gateway shutting down')));
    this.server?.forceShutdown();
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
  }
}
