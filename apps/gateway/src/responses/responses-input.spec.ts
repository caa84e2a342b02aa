import { OpenAIError } from '../core/openai-error';
import { callsOf, checkInclude, checkMetadata, parseInput, parseResponseToolChoice, parseResponseTools, parseTextFormat, truncated, type ChatMessageJson } from './responses-input';

const none = { acceptsImages: false, knownCalls: new Set<string>(), openCalls: new Set<string>() };

/** The 400 a call throws, as OpenAI's body. */
function refusal(fn: () => unknown): { param: string | null; message: string; code: string | null } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OpenAIError);
    expect((err as OpenAIError).getStatus()).toBe(400);
    return (err as OpenAIError).body.error;
  }
  throw new Error('expected a 400');
}

describe('parseInput', () => {
  it('a string is one user message', () => {
    const { messages, items } = parseInput('Hello', none);
    expect(messages).toEqual([{ role: 'user', content: 'Hello' }]);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'Hello' }] });
    expect(items[0].id).toMatch(/^msg_[0-9a-f]{48}$/);
  });

  it('keeps a client id, joins text parts, maps images for models that take them', () => {
    const input = [{ id: 'msg_mine', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_image', image_url: 'data:image/png;base64,AA', detail: 'low' }] }];
    const { messages, items } = parseInput(input, { ...none, acceptsImages: true });
    expect(items[0].id).toBe('msg_mine');
    expect(messages[0].content).toEqual([{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA', detail: 'low' } }]);
    const text = parseInput([{ role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_text', text: 'b' }] }], none);
    expect(text.messages[0].content).toBe('a\nb');
  });

  it('refuses an image on a text-only model, naming the part', () => {
    const e = refusal(() => parseInput([{ role: 'user', content: [{ type: 'input_text', text: 'x' }, { type: 'input_image', image_url: 'https://x/y.png' }] }], none));
    expect(e).toMatchObject({ param: 'input[0].content[1]', code: 'unsupported_content_type' });
  });

  it('puts function calls on the assistant turn and answers them with tool messages', () => {
    const { messages } = parseInput(
      [
        { role: 'user', content: 'weather?' },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'think' }] },
        { type: 'function_call', call_id: 'call_1', name: 'w', arguments: '{}' },
        { type: 'function_call', call_id: 'call_2', name: 'w', arguments: '{"a":1}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
        { type: 'function_call_output', call_id: 'call_2', output: 'rain' },
      ],
      none,
    );
    expect(messages).toEqual([
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: null,
        reasoning_content: 'think',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'w', arguments: '{}' } },
          { id: 'call_2', type: 'function', function: { name: 'w', arguments: '{"a":1}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'call_2', content: 'rain' },
    ]);
  });

  it('an output for a call of the conversation so far is accepted; an unknown call id is a 400', () => {
    const ok = parseInput([{ type: 'function_call_output', call_id: 'call_9', output: '1' }], { ...none, knownCalls: new Set(['call_9']), openCalls: new Set(['call_9']) });
    expect(ok.messages).toEqual([{ role: 'tool', tool_call_id: 'call_9', content: '1' }]);
    const e = refusal(() => parseInput([{ type: 'function_call_output', call_id: 'nope', output: '1' }], none));
    expect(e.param).toBe('input[0].call_id');
    expect(e.message).toContain('nope');
  });

  it('a user message while a call is unanswered is a 400', () => {
    const e = refusal(() => parseInput([{ role: 'user', content: 'next' }], { ...none, knownCalls: new Set(['call_9']), openCalls: new Set(['call_9']) }));
    expect(e.param).toBe('input[0]');
    expect(e.message).toContain('call_9');
  });

  it.each([
    [[], 'input'],
    [[42], 'input[0]'],
    [[{ type: 'message', role: 'robot', content: 'x' }], 'input[0].role'],
    [[{ role: 'user', content: [{ type: 'input_text', text: 5 }] }], 'input[0].content[0].text'],
    [[{ role: 'user', content: [{ type: 'mystery' }] }], 'input[0].content[0].type'],
    [[{ role: 'user', content: [] }], 'input[0].content'],
    [[{ role: 'system', content: [{ type: 'input_image', image_url: 'x' }] }], 'input[0].content[0]'],
    [[{ type: 'function_call', name: 'f', arguments: '{}' }], 'input[0].call_id'],
    [[{ type: 'function_call', call_id: 'c', name: 'f', arguments: {} }], 'input[0].arguments'],
    [[{ type: 'item_reference', id: 'msg_1' }], 'input[0].type'],
    [[{ type: 'web_search_call', id: 'ws_1' }], 'input[0].type'],
    [[{ role: 'assistant', content: [{ type: 'input_image' }] }], 'input[0].content[0].type'],
  ])('refuses %j with param %s', (input, param) => {
    expect(refusal(() => parseInput(input as unknown[], { ...none, acceptsImages: true })).param).toBe(param);
  });
});

describe('tools, tool_choice, text.format, include, metadata', () => {
  it('flat function tools become chat tools, strict by default', () => {
    expect(parseResponseTools([{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} } }])).toEqual([
      { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} }, strict: true } },
    ]);
    expect((parseResponseTools([{ type: 'function', name: 'f', strict: false }])![0].function as { strict: boolean }).strict).toBe(false);
  });

  it('a built-in tool is refused by name on its type', () => {
    const e = refusal(() => parseResponseTools([{ type: 'function', name: 'f' }, { type: 'web_search' }]));
    expect(e.param).toBe('tools[1].type');
    expect(e.message).toContain("'web_search'");
  });

  it.each([
    [[{ type: 'function', name: 'bad name' }], 'tools[0].name'],
    [[{ type: 'function', name: 'f' }, { type: 'function', name: 'f' }], 'tools[1].name'],
    [[{ type: 'function', name: 'f', parameters: { type: 'objekt' } }], 'tools[0].parameters.type'],
  ])('tools %j: 400 on %s', (tools, param) => {
    expect(refusal(() => parseResponseTools(tools)).param).toBe(param);
  });

  it('tool_choice: a named function, allowed_tools keeping a subset, and refusals', () => {
    const tools = parseResponseTools([
      { type: 'function', name: 'a' },
      { type: 'function', name: 'b' },
    ]);
    expect(parseResponseToolChoice({ type: 'function', name: 'b' }, tools).choice).toEqual({ type: 'function', function: { name: 'b' } });
    const allowed = parseResponseToolChoice({ type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'a' }] }, tools);
    expect(allowed.choice).toBe('required');
    expect(allowed.tools!.map((t) => (t.function as { name: string }).name)).toEqual(['a']);
    expect(refusal(() => parseResponseToolChoice({ type: 'function', name: 'zz' }, tools)).param).toBe('tool_choice.name');
    expect(refusal(() => parseResponseToolChoice('required', undefined)).param).toBe('tool_choice');
    expect(refusal(() => parseResponseToolChoice({ type: 'file_search' }, tools)).param).toBe('tool_choice.type');
  });

  it('text.format maps onto response_format', () => {
    expect(parseTextFormat({ format: { type: 'json_object' } })).toEqual({ type: 'json_object' });
    expect(parseTextFormat({ format: { type: 'json_schema', name: 'x', schema: { type: 'object' }, strict: true } })).toEqual({
      type: 'json_schema',
      json_schema: { name: 'x', schema: { type: 'object' }, strict: true },
    });
    expect(refusal(() => parseTextFormat({ format: { type: 'json_schema', name: 'x' } })).param).toBe('text.format.schema');
    expect(refusal(() => parseTextFormat({ format: { type: 'yaml' } })).param).toBe('text.format.type');
  });

  it('include and metadata', () => {
    expect(checkInclude(['message.output_text.logprobs']).logprobs).toBe(true);
    expect(checkInclude(undefined).logprobs).toBe(false);
    expect(refusal(() => checkInclude(['everything'])).param).toBe('include[0]');
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    expect(refusal(() => checkMetadata(many)).param).toBe('metadata');
    expect(refusal(() => checkMetadata({ a: 1 })).param).toBe('metadata.a');
  });
});

describe('conversation helpers', () => {
  const convo: ChatMessageJson[] = [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'one' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'r' },
    { role: 'assistant', content: 'two' },
    { role: 'user', content: 'three' },
  ];

  it('callsOf: every call made, and the open ones of the last turn', () => {
    expect(callsOf(convo)).toEqual({ known: new Set(['c1']), open: new Set() });
    expect(callsOf(convo.slice(0, 3)).open).toEqual(new Set(['c1']));
  });

  it('truncated drops the oldest turns, keeps the front and the newest, and never leaves an orphan tool answer', () => {
    let m: ChatMessageJson[] | undefined = convo;
    const seen: number[] = [];
    while ((m = truncated(m, 1))) {
      expect(m[0]).toEqual(convo[0]);
      expect(m[m.length - 1]).toEqual(convo[convo.length - 1]);
      expect(m[1].role).not.toBe('tool');
      seen.push(m.length);
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBe(2);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
  });
});
