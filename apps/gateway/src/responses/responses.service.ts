/**
 * The Responses API over the queue: a response runs as one chat job (ResponsePlan), its events
 * become the response object and OpenAI's stream events (ResponseBuilder), and stored responses,
 * their conversations and background runs live in Redis (ResponseStore), so any replica can read,
 * resume, cancel or continue them.
 *
 * Background responses run in this gateway, detached from the request: the client's connection may
 * close without cancelling them; every event is appended to the response's event stream for
 * `GET /v1/responses/{id}?stream=true`, and a cancel from any replica reaches this one by PUBLISH.
 */
import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { DoneEvent } from '@switchyard/contracts';
import { Logger } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { GatewayHeartbeat } from '../core/gateway-heartbeat.service';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import { OpenAIError } from '../core/openai-error';
import { toOpenAIError } from '../core/openai-error.filter';
import { RedisConnections } from '../core/redis-connections';
import { RedisSubscriptions } from '../core/redis-subscriptions';
import { SseKeepAlive } from '../core/sse-keepalive';
import { SSE_HEADERS, clientGone } from '../chat/response-writer';
import { ResponseBuilder, assistantMessageOf, type ResponseEvent, type ResponseObject } from './response-builder';
import { planResponse, type ResponsePlan } from './response-plan';
import { END_FIELD, ResponseStore, isTerminal, notFound, responseCancelChannel, responseEventsKey, type StoredResponse } from './response-store';
import type { CreateResponseDto } from './create-response.dto';
import { truncated } from './responses-input';

/** A live client of a background stream further behind than this is dropped (it can resume). */
const LIVE_BACKLOG_BYTES = 1 << 20;
/** A resumed stream's blocking read; between reads it checks the response is still being written. */
const RESUME_BLOCK_MS = 2000;
/** How long a cancel waits for the gateway running the response to settle it. */
const CANCEL_WAIT_MS = 10_000;
/** The abort reason of background runs stopped by this gateway's shutdown (not a client's cancel). */
const SHUTDOWN = 'shutdown';

type Outcome = { kind: 'done'; event: DoneEvent } | { kind: 'aborted' };

function sse(res: Response, event: ResponseEvent): boolean {
  return res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

/** Errors a worker reports about the chat prompt, told in the Responses request's terms. */
function inResponsesTerms(err: unknown): OpenAIError {
  const e = toOpenAIError(err);
  if (e.param !== 'messages' && !e.param?.startsWith('messages[')) return e;
  const body = e.body.error;
  return new OpenAIError(e.getStatus(), body.message, body.type, e.code, 'input', e.headers);
}

@Injectable()
export class ResponsesService implements BeforeApplicationShutdown {
  private readonly log = new Logger('gateway.responses');
  /** Background responses this gateway runs: their cancel handle and their end. */
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
    private readonly store: ResponseStore,
    private readonly connections: RedisConnections,
    private readonly subscriptions: RedisSubscriptions,
    private readonly heartbeat: GatewayHeartbeat,
  ) {}

  async create(dto: CreateResponseDto, req: Request, res: Response): Promise<void> {
    const model = this.catalog.require(dto.model);
    let previous: StoredResponse | undefined;
    if (dto.previous_response_id != null) {
      previous = await this.store.get(dto.previous_response_id);
      if (!previous) {
        throw new OpenAIError(404, `Previous response with id '${dto.previous_response_id}' not found.`, 'invalid_request_error', 'previous_response_not_found', 'previous_response_id');
      }
      if (!isTerminal(previous.response)) {
        throw OpenAIError.badRequest(`Previous response '${dto.previous_response_id}' is still ${previous.response.status}; continue from it once it has finished.`, 'previous_response_id', 'invalid_value');
      }
    }
    const plan = planResponse(dto, model, previous);
    // Checked before anything is queued or stored: a bad request leaves nothing behind.
    try {
      plan.jobsFor(plan.messages);
    } catch (err) {
      throw inResponsesTerms(err);
    }
    if (dto.background === true) return this.startBackground(plan, res, dto.stream === true);
    if (dto.stream === true) return this.stream(plan, req, res);
    const abort = clientGone(req, res);
    const builder = new ResponseBuilder(plan.response, () => undefined, plan);
    const outcome = await this.drive(plan, builder, abort.signal, () => undefined);
    if (outcome.kind === 'aborted') return;
    builder.done(outcome.event);
    if (plan.response.store === true) await this.store.put(this.record(plan, builder.response));
    res.status(200).json(builder.response);
  }

  /** The stored record of a finished (or running) response. */
  private record(plan: ResponsePlan, response: ResponseObject, jobId = `${response.id}-0`): StoredResponse {
    const answer = isTerminal(response) ? assistantMessageOf(response.output) : undefined;
    return {
      response,
      inputItems: plan.inputItems,
      context: answer ? [...plan.context, answer] : plan.context,
      model: plan.model.name,
      jobId,
      ...(response.background === true ? { owner: this.heartbeat.id } : {}),
    };
  }

  /**
   * Runs the plan's job until its `done`, or until `signal` aborts. With `truncation: auto`, a
   * prompt over the context drops the oldest turns and runs again. `onStart` sees each job id.
   * Errors before any output are thrown in the Responses request's terms.
   */
  private async drive(plan: ResponsePlan, builder: ResponseBuilder, signal: AbortSignal, onFirst: () => void, onJob?: (jobId: string) => void): Promise<Outcome> {
    let messages = plan.messages;
    let announced = false;
    for (let attempt = 0; ; attempt++) {
      const jobId = `${plan.response.id}-${attempt}`;
      onJob?.(jobId);
      let produced = false;
      try {
        for await (const { event } of this.inference.generate(plan.model, plan.jobsFor(messages), signal, [jobId])) {
          if (!announced) {
            announced = true;
            onFirst();
          }
          if (event.type === 'start') builder.started();
          else if (event.type === 'delta') {
            produced = true;
            builder.delta(event);
          } else if (event.type === 'done') return { kind: 'done', event };
        }
        return { kind: 'aborted' };
      } catch (err) {
        const e = inResponsesTerms(err);
        const fewer = plan.response.truncation === 'auto' && !produced && e.code === 'context_length_exceeded' ? truncated(messages, plan.front) : undefined;
        if (!fewer) throw e;
        messages = fewer;
      }
    }
  }

  /** A streamed response that is not background: it lives as long as its client. */
  private async stream(plan: ResponsePlan, req: Request, res: Response): Promise<void> {
    const abort = clientGone(req, res);
    SseKeepAlive.start(res, { intervalMs: this.env.SSE_KEEPALIVE_MS, headers: SSE_HEADERS });
    let full = false;
    const builder = new ResponseBuilder(
      plan.response,
      (e) => {
        if (!res.destroyed && !sse(res, e)) full = true;
      },
      plan,
    );
    let announced = false;
    const open = (): void => {
      announced = true;
      if (!res.headersSent) res.writeHead(200, SSE_HEADERS);
      builder.created();
    };
    try {
      const outcome = await this.drive(plan, builder, abort.signal, open);
      if (outcome.kind === 'aborted') return;
      builder.done(outcome.event);
    } catch (err) {
      const e = toOpenAIError(err);
      // Before the first event the client gets a plain HTTP error, as on every endpoint.
      if (!res.headersSent) throw e;
      if (!res.writableEnded && !res.destroyed) {
        // Keep-alive comments may have sent the headers during a long wait in the queue.
        if (!announced) open();
        builder.failed(e.code ?? 'server_error', e.message);
      }
    }
    if (plan.response.store === true) await this.store.put(this.record(plan, builder.response)).catch((err: Error) => this.log.warn('storing a response failed', { id: plan.response.id, error: err.message }));
    if (full && res.writableNeedDrain) await new Promise((r) => res.once('drain', r).once('close', r));
    if (!res.destroyed) res.end();
  }

  /**
   * Stores the response as queued, answers at once (JSON, or the live stream), and runs it here,
   * detached from the client; a cancel (any replica) or this gateway's shutdown stops it.
   */
  private async startBackground(plan: ResponsePlan, res: Response, stream: boolean): Promise<void> {
    const id = plan.response.id;
    const abort = new AbortController();
    let jobId = `${id}-0`;
    await this.store.put(this.record(plan, plan.response, jobId));
    const unlisten = await this.subscriptions.listen(responseCancelChannel(id), () => abort.abort());
    let live: Response | undefined = stream ? res : undefined;
    let writes = Promise.resolve();
    const persist = (): void => {
      const snapshot = this.record(plan, structuredClone(plan.response), jobId);
      writes = writes.then(async () => {
        // A DELETE while it ran must not be undone by the next write.
        if (await this.store.exists(id)) await this.store.put(snapshot);
      });
    };
    const builder = new ResponseBuilder(
      plan.response,
      (e) => {
        void this.store.appendEvent(id, e).catch(() => undefined);
        if (live && !live.destroyed) {
          sse(live, e);
          if (live.writableLength > LIVE_BACKLOG_BYTES) live.destroy();
        }
        if (e.type === 'response.in_progress' && plan.response.status === 'in_progress') persist();
      },
      plan,
    );
    if (stream) res.writeHead(200, SSE_HEADERS);
    builder.created();
    if (!stream) res.status(200).json(builder.snapshot());
    const done = (async () => {
      try {
        const outcome = await this.drive(plan, builder, abort.signal, () => undefined, (j) => {
          jobId = j;
        });
        if (outcome.kind === 'done') builder.done(outcome.event);
        else if (abort.signal.reason === SHUTDOWN) builder.failed('server_error', 'The gateway running this response shut down before it finished; create it again.');
        else builder.cancelled();
      } catch (err) {
        const e = toOpenAIError(err);
        builder.failed(e.code ?? 'server_error', e.message);
      }
      persist();
      await writes.catch((err: Error) => this.log.warn('storing a background response failed', { id, error: err.message }));
      await this.store.endEvents(id).catch(() => undefined);
      await unlisten().catch(() => undefined);
      if (live && !live.destroyed) live.end();
      live = undefined;
    })().finally(() => this.running.delete(id));
    this.running.set(id, { abort, done });
  }

  /** GET /v1/responses/{id}: the stored response; a background one whose gateway died is failed. */
  async retrieve(id: string): Promise<ResponseObject> {
    return (await this.settled(await this.store.require(id))).response;
  }

  /** A running background response whose gateway is gone can never finish: mark it failed. */
  private async settled(record: StoredResponse): Promise<StoredResponse> {
    const id = record.response.id;
    if (isTerminal(record.response) || this.running.has(id) || !record.owner || (await this.store.gatewayAlive(record.owner))) return record;
    // Read again: it may have finished between the first read and the liveness check.
    const fresh = await this.store.get(id);
    if (!fresh || isTerminal(fresh.response)) return fresh ?? record;
    fresh.response.status = 'failed';
    fresh.response.error = { code: 'server_error', message: 'The gateway running this response stopped before it finished.' };
    await this.store.put(fresh);
    await this.store.endEvents(id);
    const model = this.catalog.find(fresh.model);
    if (model) await this.inference.cancelJob(model, fresh.jobId);
    return fresh;
  }

  /** GET /v1/responses/{id}?stream=true: a background response's events after `startingAfter`. */
  async resume(id: string, startingAfter: number | undefined, req: Request, res: Response): Promise<void> {
    const record = await this.store.require(id);
    if (record.response.background !== true) {
      throw OpenAIError.badRequest('Only responses created with background=true can be streamed again.', 'stream', 'invalid_value');
    }
    const key = responseEventsKey(id);
    const conn = this.store.blockingConnection();
    let gone = false;
    res.on('close', () => {
      gone = true;
    });
    req.socket.setNoDelay(true);
    try {
      res.writeHead(200, SSE_HEADERS);
      let last = startingAfter === undefined ? '0-0' : `${startingAfter + 1}-0`;
      while (!gone) {
        const read = (await conn.xread('COUNT', 500, 'BLOCK', RESUME_BLOCK_MS, 'STREAMS', key, last)) as Array<[string, Array<[string, string[]]>]> | null;
        if (read === null) {
          // Nothing new: finished (its end entry expired or was never written) or stalled for good.
          const now = await this.store.get(id);
          if (!now || isTerminal((await this.settled(now)).response)) {
            const tail = (await conn.xrange(key, `(${last}`, '+', 'COUNT', 1)) as Array<[string, string[]]>;
            if (tail.length === 0) break;
          }
          continue;
        }
        let ended = false;
        for (const [entryId, fields] of read[0][1]) {
          last = entryId;
          if (fields[0] === END_FIELD) {
            ended = true;
            break;
          }
          if (!res.write(`event: ${JSON.parse(fields[1]).type as string}\ndata: ${fields[1]}\n\n`)) {
            await new Promise((r) => res.once('drain', r).once('close', r));
          }
        }
        if (ended) break;
      }
    } finally {
      conn.disconnect();
    }
    if (!res.destroyed) res.end();
  }

  /** POST /v1/responses/{id}/cancel. */
  async cancel(id: string): Promise<ResponseObject> {
    const record = await this.settled(await this.store.require(id));
    if (record.response.background !== true) {
      throw OpenAIError.badRequest('Only responses created with background=true can be cancelled.', 'response_id', 'invalid_value');
    }
    if (isTerminal(record.response)) return record.response;
    const local = this.running.get(id);
    if (local) {
      local.abort.abort();
      await local.done;
      return (await this.store.require(id)).response;
    }
    await this.connections.command.publish(responseCancelChannel(id), '1');
    const deadline = Date.now() + CANCEL_WAIT_MS;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      const now = await this.store.require(id);
      if (isTerminal(now.response)) return now.response;
    }
    throw new OpenAIError(504, `The gateway running response '${id}' did not confirm the cancel in time; it may still finish.`, 'server_error', 'cancel_timeout');
  }

  /** DELETE /v1/responses/{id}: a running background response is cancelled first. */
  async remove(id: string): Promise<{ id: string; object: 'response'; deleted: true }> {
    const record = await this.store.get(id);
    if (!record) throw notFound(id);
    if (!isTerminal(record.response) && record.response.background === true) {
      const local = this.running.get(id);
      if (local) local.abort.abort();
      else await this.connections.command.publish(responseCancelChannel(id), '1');
    }
    if (!(await this.store.delete(id))) throw notFound(id);
    return { id, object: 'response', deleted: true };
  }

  /** GET /v1/responses/{id}/input_items, paginated as OpenAI does (newest first by default). */
  async inputItems(id: string, q: { limit?: number; order?: 'asc' | 'desc'; after?: string }): Promise<object> {
    const record = await this.store.require(id);
    let items = q.order === 'asc' ? [...record.inputItems] : [...record.inputItems].reverse();
    if (q.after !== undefined) {
      const at = items.findIndex((i) => i.id === q.after);
      if (at < 0) throw OpenAIError.badRequest(`No input item with id '${q.after}' in response '${id}'.`, 'after', 'invalid_value');
      items = items.slice(at + 1);
    }
    const limit = q.limit ?? 20;
    const data = items.slice(0, limit);
    return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: items.length > limit };
  }

  /**
   * Background responses still running here are stopped and stored as failed (nobody else can
   * finish them) before the gateway's Redis connections close.
   */
  async beforeApplicationShutdown(): Promise<void> {
    for (const r of this.running.values()) r.abort.abort(SHUTDOWN);
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }
}
