/**
 * Turns one job's neutral events (start, deltas of text, reasoning and tool-call fragments, done)
 * into a Responses API `response` object and, for streams, every semantic event OpenAI sends, with
 * consecutive `sequence_number`s from 0: output items open and close as the kind of output changes
 * (reasoning, then the message, then each function call), so a client sees what OpenAI's would.
 */
import type { DeltaEvent, DoneEvent, FinishReason, TokenLogprob, Usage } from '@switchyard/contracts';
import { itemId, type ChatMessageJson } from './responses-input';

type Obj = Record<string, unknown>;

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'incomplete' | 'failed' | 'cancelled';

/** A Responses API stream event (OpenAI's ResponseStreamEvent), numbered. */
export type ResponseEvent = Obj & { type: string; sequence_number: number };

/** The response object (OpenAI's Response). */
export type ResponseObject = Obj & { id: string; status: ResponseStatus; output: Obj[]; usage?: Obj };

interface OpenItem {
  kind: 'message' | 'reasoning' | 'function_call';
  index: number;
  item: Obj;
  text: string;
  logprobs: Obj[];
  /** The job's tool-call index, for function calls. */
  call?: number;
}

function responseLogprobs(entries: readonly TokenLogprob[]): Obj[] {
  return entries.map((e) => ({
    token: e.token,
    logprob: e.logprob,
    bytes: e.bytes,
    top_logprobs: e.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
  }));
}

export function responsesUsage(u: Usage): Obj {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens ?? 0, cache_write_tokens: 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.promptTokens + u.completionTokens,
  };
}

/** The text of every output_text part, joined (the SDKs' `output_text`). */
export function outputText(output: readonly Obj[]): string {
  return output
    .filter((i) => i.type === 'message')
    .flatMap((i) => i.content as Obj[])
    .filter((p) => p.type === 'output_text')
    .map((p) => p.text as string)
    .join('');
}

/** The assistant turn a finished response adds to its conversation (chat shape). */
export function assistantMessageOf(output: readonly Obj[]): ChatMessageJson | undefined {
  const text = outputText(output);
  const reasoning = output
    .filter((i) => i.type === 'reasoning')
    .map((i) => ((Array.isArray(i.content) && i.content.length > 0 ? i.content : i.summary) as Obj[]).map((p) => p.text as string).join(''))
    .join('');
  const calls = output
    .filter((i) => i.type === 'function_call')
    .map((i) => ({ id: i.call_id as string, type: 'function' as const, function: { name: i.name as string, arguments: i.arguments as string } }));
  if (text.length === 0 && calls.length === 0 && reasoning.length === 0) return undefined;
  return {
    role: 'assistant',
    content: calls.length > 0 && text.length === 0 ? null : text,
    ...(calls.length > 0 ? { tool_calls: calls } : {}),
    ...(reasoning.length > 0 ? { reasoning_content: reasoning } : {}),
  };
}

export class ResponseBuilder {
  private seq = 0;
  private readonly items: OpenItem[] = [];
  private current: OpenItem | undefined;

  constructor(
    /** The response as created (status queued or in_progress, empty output). */
    readonly response: ResponseObject,
    private readonly emit: (event: ResponseEvent) => void,
    private readonly o: { summary: boolean; logprobs: boolean },
  ) {}

  private send(type: string, body: Obj): void {
    this.emit({ type, ...body, sequence_number: this.seq++ });
  }

  /** A copy of the response as it stands (events carry snapshots, not the live object). */
  snapshot(): ResponseObject {
    return structuredClone(this.response);
  }

  created(): void {
    this.send('response.created', { response: this.snapshot() });
    if (this.response.status === 'queued') this.send('response.queued', { response: this.snapshot() });
    else this.send('response.in_progress', { response: this.snapshot() });
  }

  /** The worker took the job. */
  started(): void {
    if (this.response.status !== 'queued') return;
    this.response.status = 'in_progress';
    this.send('response.in_progress', { response: this.snapshot() });
  }

  private open(kind: OpenItem['kind'], call?: number, name?: string, callId?: string): OpenItem {
    this.close();
    const index = this.items.length;
    let item: Obj;
    if (kind === 'message') item = { id: itemId('msg'), type: 'message', status: 'in_progress', role: 'assistant', content: [] };
    else if (kind === 'reasoning') item = { id: itemId('rs'), type: 'reasoning', summary: [], ...(this.o.summary ? {} : { content: [] }) };
    else item = { id: itemId('fc'), type: 'function_call', status: 'in_progress', arguments: '', call_id: callId ?? itemId('call'), name: name ?? '' };
    const open: OpenItem = { kind, index, item, text: '', logprobs: [], ...(call !== undefined ? { call } : {}) };
    this.items.push(open);
    this.current = open;
    this.send('response.output_item.added', { output_index: index, item: structuredClone(item) });
    const id = item.id as string;
    if (kind === 'message') {
      this.send('response.content_part.added', { item_id: id, output_index: index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
    } else if (kind === 'reasoning' && this.o.summary) {
      this.send('response.reasoning_summary_part.added', { item_id: id, output_index: index, summary_index: 0, part: { type: 'summary_text', text: '' } });
    }
    return open;
  }

  /** Ends the open item: its `.done` events, and the item as it finished in the output. */
  private close(status: 'completed' | 'incomplete' = 'completed'): void {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    const id = c.item.id as string;
    const at = { item_id: id, output_index: c.index };
    if (c.kind === 'message') {
      const part = { type: 'output_text', text: c.text, annotations: [], logprobs: c.logprobs };
      this.send('response.output_text.done', { ...at, content_index: 0, text: c.text, logprobs: c.logprobs });
      this.send('response.content_part.done', { ...at, content_index: 0, part });
      c.item.content = [part];
      c.item.status = status;
    } else if (c.kind === 'reasoning') {
      if (this.o.summary) {
        this.send('response.reasoning_summary_text.done', { ...at, summary_index: 0, text: c.text });
        this.send('response.reasoning_summary_part.done', { ...at, summary_index: 0, part: { type: 'summary_text', text: c.text } });
        c.item.summary = [{ type: 'summary_text', text: c.text }];
      } else {
        this.send('response.reasoning_text.done', { ...at, content_index: 0, text: c.text });
        c.item.content = [{ type: 'reasoning_text', text: c.text }];
      }
    } else {
      this.send('response.function_call_arguments.done', { ...at, name: c.item.name, arguments: c.text });
      c.item.arguments = c.text;
      c.item.status = status;
    }
    this.send('response.output_item.done', { output_index: c.index, item: structuredClone(c.item) });
    this.response.output.push(c.item);
  }

  delta(event: DeltaEvent): void {
    if (event.reasoning) {
      const c = this.current?.kind === 'reasoning' ? this.current : this.open('reasoning');
      c.text += event.reasoning;
      const at = { item_id: c.item.id, output_index: c.index };
      if (this.o.summary) this.send('response.reasoning_summary_text.delta', { ...at, summary_index: 0, delta: event.reasoning });
      else this.send('response.reasoning_text.delta', { ...at, content_index: 0, delta: event.reasoning });
    }
    if (event.text.length > 0) {
      const c = this.current?.kind === 'message' ? this.current : this.open('message');
      c.text += event.text;
      const logprobs = this.o.logprobs && event.logprobs?.length ? responseLogprobs(event.logprobs) : [];
      c.logprobs.push(...logprobs);
      this.send('response.output_text.delta', { item_id: c.item.id, output_index: c.index, content_index: 0, delta: event.text, logprobs });
    }
    for (const d of event.toolCalls ?? []) {
      let c = this.current?.kind === 'function_call' && this.current.call === d.index ? this.current : undefined;
      if (!c) c = this.open('function_call', d.index, d.name, d.id);
      if (d.arguments) {
        c.text += d.arguments;
        this.send('response.function_call_arguments.delta', { item_id: c.item.id, output_index: c.index, delta: d.arguments });
      }
    }
  }

  /** The job ended: close the last item and settle status, usage and incomplete_details. */
  done(event: DoneEvent): void {
    const status = finishStatus(event.finishReason);
    this.close(status === 'completed' ? 'completed' : 'incomplete');
    this.response.usage = responsesUsage(event.usage);
    this.response.output_text = outputText(this.response.output);
    if (status === 'completed') {
      this.response.status = 'completed';
      this.response.completed_at = Math.floor(Date.now() / 1000);
      this.send('response.completed', { response: this.snapshot() });
    } else {
      this.response.status = 'incomplete';
      this.response.incomplete_details = { reason: event.finishReason === 'content_filter' ? 'content_filter' : 'max_output_tokens' };
      this.send('response.incomplete', { response: this.snapshot() });
    }
  }

  /** The job failed after the response was created (a worker error, a lost worker). */
  failed(code: string, message: string): void {
    this.close('incomplete');
    this.response.status = 'failed';
    this.response.output_text = outputText(this.response.output);
    this.response.error = { code: RESPONSE_ERROR_CODES.has(code) ? code : 'server_error', message };
    this.send('response.failed', { response: this.snapshot() });
  }

  /** Cancelled (background): what was generated so far stays in the output. */
  cancelled(): void {
    this.close('incomplete');
    this.response.status = 'cancelled';
    this.response.output_text = outputText(this.response.output);
    // No terminal event of its own in OpenAI's list; a resumed stream ends on the record's status.
  }
}

/** OpenAI's ResponseErrorCode values (anything else is reported as server_error). */
const RESPONSE_ERROR_CODES = new Set(['server_error', 'rate_limit_exceeded', 'invalid_prompt', 'invalid_image', 'invalid_image_format', 'invalid_base64_image', 'invalid_image_url', 'image_too_large', 'failed_to_download_image']);

function finishStatus(reason: FinishReason): 'completed' | 'incomplete' {
  return reason === 'length' || reason === 'content_filter' ? 'incomplete' : 'completed';
}
