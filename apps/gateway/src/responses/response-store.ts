/**
 * Stored responses in Redis, shared by every gateway replica: one JSON record per response (the
 * response object, its input items, the conversation it ends, the job that runs it), expiring after
 * RESPONSE_RETENTION_SECONDS; and, for background responses, the stream of its Responses events, so
 * a client can resume it on any replica. The events' stream ids are `<sequence_number + 1>-0`:
 * `starting_after=N` is an exclusive range from `N+1-0`, with no lookup.
 */
import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { REDIS_PREFIX, gatewayHeartbeatKey } from '@switchyard/contracts';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { OpenAIError } from '../core/openai-error';
import { RedisConnections } from '../core/redis-connections';
import type { ResponseEvent, ResponseObject } from './response-builder';
import type { ChatMessageJson, InputItemResource } from './responses-input';

export interface StoredResponse {
  response: ResponseObject;
  /** This request's input items, with ids (GET …/input_items). */
  inputItems: InputItemResource[];
  /** The conversation through this response's output, without instructions (previous_response_id). */
  context: ChatMessageJson[];
  /** The catalog's model name the job ran on (cancel finds its queue). */
  model: string;
  jobId: string;
  /** The gateway running a background response (a dead one cannot finish it). */
  owner?: string;
}

const TERMINAL = new Set(['completed', 'incomplete', 'failed', 'cancelled']);

export function isTerminal(r: ResponseObject): boolean {
  return TERMINAL.has(r.status);
}

export function responseKey(id: string): string {
  return `${REDIS_PREFIX}:response:${id}`;
}

export function responseEventsKey(id: string): string {
  return `${REDIS_PREFIX}:response:${id}:events`;
}

export function responseCancelChannel(id: string): string {
  return `${REDIS_PREFIX}:response:${id}:cancel`;
}

/** The field of the entry that ends a background response's event stream (never sent to clients). */
export const END_FIELD = 'end';

export function notFound(id: string): OpenAIError {
  return new OpenAIError(404, `Response with id '${id}' not found.`, 'invalid_request_error', 'not_found', 'response_id');
}

@Injectable()
export class ResponseStore {
  private readonly redis: Redis;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    connections: RedisConnections,
  ) {
    this.redis = connections.command;
  }

  get retentionSeconds(): number {
    return this.env.RESPONSE_RETENTION_SECONDS;
  }

  async get(id: string): Promise<StoredResponse | undefined> {
    const raw = await this.redis.get(responseKey(id));
    return raw === null ? undefined : (JSON.parse(raw) as StoredResponse);
  }

  async require(id: string): Promise<StoredResponse> {
    const found = await this.get(id);
    if (!found) throw notFound(id);
    return found;
  }

  async put(record: StoredResponse): Promise<void> {
    await this.redis.set(responseKey(record.response.id), JSON.stringify(record), 'EX', this.env.RESPONSE_RETENTION_SECONDS);
  }

  /** Whether a response's stored copy still exists (a DELETE while it ran must not be undone). */
  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(responseKey(id))) === 1;
  }

  async delete(id: string): Promise<boolean> {
    const [[, n]] = (await this.redis.multi().del(responseKey(id)).del(responseEventsKey(id)).exec()) as Array<[Error | null, number]>;
    return n === 1;
  }

  /** Appends a background response's event (not awaited per token: one connection keeps the order). */
  appendEvent(id: string, event: ResponseEvent): Promise<unknown> {
    const key = responseEventsKey(id);
    const pipe = this.redis.pipeline().xadd(key, `${event.sequence_number + 1}-0`, 'e', JSON.stringify(event));
    if (event.sequence_number === 0) pipe.expire(key, this.env.RESPONSE_RETENTION_SECONDS);
    return pipe.exec();
  }

  /** Closes a background response's event stream, so readers stop without waiting for a timeout. */
  async endEvents(id: string): Promise<void> {
    const key = responseEventsKey(id);
    await this.redis.multi().xadd(key, '*', END_FIELD, '1').expire(key, this.env.RESPONSE_RETENTION_SECONDS).exec();
  }

  async gatewayAlive(gatewayId: string): Promise<boolean> {
    return (await this.redis.exists(gatewayHeartbeatKey(gatewayId))) === 1;
  }

  /** A connection of its own for a resumed stream's blocking reads. */
  blockingConnection(): Redis {
    return this.redis.duplicate({ connectionName: 'switchyard-gateway-resume' });
  }
}
