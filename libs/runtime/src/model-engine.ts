/**
 * What a backend supplies to serve one model, whoever carries its jobs (a BullMQ queue on a worker,
 * or the runner's gRPC stream): how to load and free the model, and one handler per job kind. A
 * handler gets the job and a context (its abort signal, a way to send start and delta events) and
 * returns how the job ended; `runKind` turns a missing handler, a Rejection or any other failure
 * into the error event, the same way for every host.
 */
import type { DeltaEvent, DoneEvent, ErrorEvent, JobResults, LoadStep, ResultData, ResultEvent, StartEvent, UnsequencedEvent } from '@switchyard/contracts';
import { rejectionEvent, serverErrorEvent, type UnsequencedError } from './job-errors';
import type { Logger } from './logger';
import { Rejection } from './rejection';

/** How an engine reports a load's progress (0..1, below 1 until the load returns) and step. */
export type LoadReporter = (step: LoadStep) => void;

/** What one job's handler gets from its host. */
export interface JobContext {
  readonly jobId: string;
  /** The worker (or runner) answering, for start and result events. */
  readonly workerId: string;
  /** Aborted when the client cancels (cancellable kinds) or an unload runs past its drain. */
  readonly signal: AbortSignal;
  /** Sends a start or delta event (not awaited: ordering holds on one connection). */
  emit(event: UnsequencedEvent<StartEvent | DeltaEvent>): void;
  /**
   * True when a cancel was flagged before this host took the job (cancellable kinds; else false);
   * the host has then aborted `signal` too.
   */
  cancelFlagged(): Promise<boolean>;
}

/**
 * How a job of kind K ended: its terminal event (a result typed by kind, see JobResults), or
 * undefined when it was aborted (nothing more to send).
 */
export type JobOutcome<K extends string = string> =
  | UnsequencedEvent<DoneEvent>
  | UnsequencedEvent<ResultEvent<K extends keyof JobResults ? JobResults[K] : ResultData>>
  | undefined;

/** A terminal event as a host sends it, or nothing for an aborted job. */
export type JobEnd = UnsequencedEvent<DoneEvent | ResultEvent | ErrorEvent> | undefined;

export interface KindHandler<J extends { kind: string }> {
  run(job: J, ctx: JobContext): Promise<JobOutcome<J['kind']>>;
  /**
   * Client cancels reach it (generations, upstream calls). Answers that take milliseconds skip the
   * cancel registration and the flag's round trip.
   */
  readonly cancellable?: boolean;
}

/** One handler per kind of the union, checked by the compiler. */
export type KindHandlers<J extends { kind: string }> = { readonly [K in J['kind']]: KindHandler<Extract<J, { kind: K }>> };

export interface ModelEngine<J extends { kind: string }> {
  readonly handlers: KindHandlers<J>;
  /**
   * Loads the model; throws (after cleaning up what it opened) when it cannot. `report` takes the
   * load's steps as they happen (the host shows them in heartbeats); it may be called often.
   */
  load(report?: LoadReporter): Promise<void>;
  /** Frees the model; jobs still running under it fail (their host reports them as cut by the unload). */
  dispose(): Promise<void>;
  /** Fields for the "model ready" log line. */
  describe(): Record<string, unknown>;
  /** Counters for the "model unloaded" log line (runs, batch sizes). */
  stats?(): Record<string, unknown>;
  /** Running jobs' progress by job id, shown in the heartbeat (image jobs' steps). */
  progress?(): Record<string, { step: number; steps: number }> | undefined;
  /** The context size once loaded, where the engine knows it better than the models file. */
  contextSize?(): number | undefined;
  /**
   * True when running jobs stop on their abort signal (the host waits for them before freeing the
   * model); false when only freeing the model ends them (ONNX Runtime runs cannot be interrupted).
   */
  readonly abortable: boolean;
  /** The 500 for a failure that is not a Rejection (logged with its stack; the client sees this). */
  readonly failure: { readonly code: string; readonly message: string };
}

/** A kind from a newer gateway, or routed to the wrong host: answered, so its client does not wait. */
export function unknownKindEvent(model: string, kind: string): UnsequencedError {
  return { type: 'error', status: 400, errorType: 'invalid_request_error', message: `The model '${model}' does not serve '${kind}' requests.`, code: 'model_not_supported', param: 'model' };
}

/** Runs a job through its kind's handler and returns its end, failures included; never throws. */
export async function runKind<J extends { kind: string }>(
  engine: Pick<ModelEngine<J>, 'handlers' | 'failure'>,
  job: J,
  ctx: JobContext,
  o: { model: string; log: Logger },
): Promise<JobEnd> {
  const handler = (engine.handlers as Record<string, KindHandler<J> | undefined>)[job.kind];
  if (!handler) return unknownKindEvent(o.model, job.kind);
  try {
    return await handler.run(job, ctx);
  } catch (err) {
    if (err instanceof Rejection) return rejectionEvent(err);
    if (ctx.signal.aborted) {
      // A handler that stops by throwing on its signal (a client cancel, an unload) ends like one that returns.
      o.log.info('job stopped', { jobId: ctx.jobId, kind: job.kind });
      return undefined;
    }
    o.log.error('job failed', { jobId: ctx.jobId, kind: job.kind, error: (err as Error).stack ?? String(err) });
    return serverErrorEvent(500, engine.failure.code, engine.failure.message);
  }
}

/** True for a kind whose handler asks for client cancels. */
export function isCancellable(handlers: object, kind: string): boolean {
  return (handlers as Record<string, KindHandler<{ kind: string }> | undefined>)[kind]?.cancellable === true;
}

/** The kinds of a job union as a list, from a record the compiler checks is complete. */
export function kindList<J extends { kind: string }>(kinds: Record<J['kind'], true>): J['kind'][] {
  return Object.keys(kinds) as J['kind'][];
}
