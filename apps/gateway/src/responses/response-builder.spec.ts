import type { DeltaEvent, DoneEvent } from '@switchyard/contracts';
import { openapiAvailable, schemaErrors } from '../../../../test/support/openapi';
import { ResponseBuilder, assistantMessageOf, type ResponseEvent, type ResponseObject } from './response-builder';

const checkSchemas = openapiAvailable();

function created(status: 'queued' | 'in_progress' = 'in_progress'): ResponseObject {
  return {
    id: 'resp_test',
    object: 'response',
    created_at: 1,
    status,
    background: status === 'queued',
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: null,
    model: 'm',
    output: [],
    output_text: '',
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    metadata: {},
  };
}

const delta = (d: Partial<DeltaEvent>): DeltaEvent => ({ type: 'delta', seq: 0, text: '', ...d });
const done = (finishReason: DoneEvent['finishReason']): DoneEvent => ({ type: 'done', seq: 0, finishReason, usage: { promptTokens: 7, completionTokens: 5, cachedTokens: 2 } });

function run(feed: (b: ResponseBuilder) => void, o = { summary: false, logprobs: false }, status: 'queued' | 'in_progress' = 'in_progress'): { events: ResponseEvent[]; response: ResponseObject } {
  const events: ResponseEvent[] = [];
  const b = new ResponseBuilder(created(status), (e) => events.push(e), o);
  b.created();
  feed(b);
  if (checkSchemas) {
    for (const e of events) expect({ type: e.type, errors: schemaErrors('ResponseStreamEvent', e) }).toEqual({ type: e.type, errors: [] });
  }
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  return { events, response: b.response };
}

describe('ResponseBuilder', () => {
  it('a text answer: the item and part open, deltas, then the done events in OpenAI order', () => {
    const { events, response } = run((b) => {
      b.started();
      b.delta(delta({ text: 'Hel' }));
      b.delta(delta({ text: 'lo' }));
      b.done(done('stop'));
    });
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[6]).toMatchObject({ text: 'Hello', output_index: 0, content_index: 0 });
    expect(response).toMatchObject({ status: 'completed', output_text: 'Hello', usage: { input_tokens: 7, output_tokens: 5, total_tokens: 12, input_tokens_details: { cached_tokens: 2 } } });
    expect(response.output).toEqual([{ id: expect.stringMatching(/^msg_/), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello', annotations: [], logprobs: [] }] }]);
    if (checkSchemas) expect(schemaErrors('Response', response)).toEqual([]);
    // Events carry snapshots: the created event's response did not change under it.
    expect((events[0].response as ResponseObject).status).toBe('in_progress');
    expect((events[0].response as ResponseObject).output).toEqual([]);
  });

  it('queued (background): response.queued, then in_progress once a worker starts', () => {
    const { events } = run(
      (b) => {
        b.started();
        b.done(done('stop'));
      },
      undefined,
      'queued',
    );
    expect(events.map((e) => e.type)).toEqual(['response.created', 'response.queued', 'response.in_progress', 'response.completed']);
  });

  it('reasoning, text, then two calls: one item each, in order; summary mode streams summary events', () => {
    const { events, response } = run(
      (b) => {
        b.delta(delta({ reasoning: 'think ' }));
        b.delta(delta({ reasoning: 'more' }));
        b.delta(delta({ text: 'ok' }));
        b.delta(delta({ toolCalls: [{ index: 0, id: 'call_a', name: 'f', arguments: '{"x"' }] }));
        b.delta(delta({ toolCalls: [{ index: 0, arguments: ':1}' }] }));
        b.delta(delta({ toolCalls: [{ index: 1, id: 'call_b', name: 'g', arguments: '{}' }] }));
        b.done(done('tool_calls'));
      },
      { summary: true, logprobs: false },
    );
    expect(response.output.map((i) => i.type)).toEqual(['reasoning', 'message', 'function_call', 'function_call']);
    expect(response.output[0]).toMatchObject({ summary: [{ type: 'summary_text', text: 'think more' }] });
    expect(response.output[2]).toMatchObject({ call_id: 'call_a', name: 'f', arguments: '{"x":1}', status: 'completed' });
    expect(response.output[3]).toMatchObject({ call_id: 'call_b', name: 'g', arguments: '{}' });
    expect(response.status).toBe('completed');
    const args = events.filter((e) => e.type === 'response.function_call_arguments.delta' && e.output_index === 2).map((e) => e.delta as string);
    expect(args.join('')).toBe('{"x":1}');
    expect(events.find((e) => e.type === 'response.function_call_arguments.done' && e.output_index === 2)).toMatchObject({ name: 'f', arguments: '{"x":1}' });
    expect(events.filter((e) => e.type === 'response.reasoning_summary_text.delta').map((e) => e.delta)).toEqual(['think ', 'more']);
    // The next turn's context: text, calls and reasoning on one assistant message.
    expect(assistantMessageOf(response.output)).toEqual({
      role: 'assistant',
      content: 'ok',
      reasoning_content: 'think more',
      tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
        { id: 'call_b', type: 'function', function: { name: 'g', arguments: '{}' } },
      ],
    });
  });

  it('without reasoning.summary the reasoning is the item content, streamed as reasoning_text', () => {
    const { events, response } = run((b) => {
      b.delta(delta({ reasoning: 'hmm' }));
      b.delta(delta({ text: 'x' }));
      b.done(done('stop'));
    });
    expect(events.some((e) => e.type === 'response.reasoning_text.delta')).toBe(true);
    expect(response.output[0]).toMatchObject({ type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'hmm' }] });
  });

  it('max tokens: incomplete with the reason, the item incomplete', () => {
    const { events, response } = run((b) => {
      b.delta(delta({ text: 'cut' }));
      b.done(done('length'));
    });
    expect(events[events.length - 1].type).toBe('response.incomplete');
    expect(response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, completed_at: null });
    expect(response.output[0].status).toBe('incomplete');
  });

  it('logprobs on deltas and the final part when asked', () => {
    const lp = { token: 'a', logprob: -0.5, bytes: [97], top: [{ token: 'a', logprob: -0.5, bytes: [97] }] };
    const { events, response } = run(
      (b) => {
        b.delta(delta({ text: 'a', logprobs: [lp] }));
        b.done(done('stop'));
      },
      { summary: false, logprobs: true },
    );
    const expected = [{ token: 'a', logprob: -0.5, bytes: [97], top_logprobs: [{ token: 'a', logprob: -0.5, bytes: [97] }] }];
    expect(events.find((e) => e.type === 'response.output_text.delta')!.logprobs).toEqual(expected);
    expect((response.output[0].content as Array<{ logprobs: unknown }>)[0].logprobs).toEqual(expected);
  });

  it('a failure closes the open item and ends with response.failed and an OpenAI error code', () => {
    const { events, response } = run((b) => {
      b.delta(delta({ text: 'par' }));
      b.failed('worker_lost', 'The worker stopped.');
    });
    expect(events.slice(-2).map((e) => e.type)).toEqual(['response.output_item.done', 'response.failed']);
    expect(response).toMatchObject({ status: 'failed', error: { code: 'server_error', message: 'The worker stopped.' }, output_text: 'par' });
  });
});
