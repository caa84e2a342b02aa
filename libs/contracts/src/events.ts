/**
 * Backend-neutral events a worker emits for one job. The gateway alone turns them into OpenAI's
 * wire format. Every event carries `seq`, starting at 0 and increasing by one, so gaps are detectable.
 */

export type FinishReason = 'stop' | 'length';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** The worker has taken the job. */
export interface StartEvent {
  type: 'start';
  seq: number;
  workerId: string;
  promptTokens: number;
}

/** A piece of generated text (never containing a stop sequence). */
export interface DeltaEvent {
  type: 'delta';
  seq: number;
  text: string;
}

export interface DoneEvent {
  type: 'done';
  seq: number;
  finishReason: FinishReason;
  usage: Usage;
}

/** OpenAI error categories the workers may report. */
export type JobErrorType = 'invalid_request_error' | 'server_error';

export interface ErrorEvent {
  type: 'error';
  seq: number;
  status: number;
  errorType: JobErrorType;
  message: string;
  code: string | null;
  param: string | null;
}

export type JobEvent = StartEvent | DeltaEvent | DoneEvent | ErrorEvent;

/** True for the events after which no more events come for the job. */
export function isTerminalEvent(event: JobEvent): event is DoneEvent | ErrorEvent {
  return event.type === 'done' || event.type === 'error';
}
