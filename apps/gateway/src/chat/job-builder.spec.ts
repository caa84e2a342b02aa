import { plainToInstance } from 'class-transformer';
import { CreateChatCompletionDto } from './create-chat-completion.dto';
import { CreateCompletionDto } from './create-completion.dto';
import { buildChatJobs, buildCompletionJobs } from './job-builder';
import { OpenAIError } from '../core/openai-error';

const chat = (body: object) => plainToInstance(CreateChatCompletionDto, { model: 'm', ...body });
const completion = (body: object) => plainToInstance(CreateCompletionDto, { model: 'm', ...body });

describe('buildChatJobs', () => {
  it('applies OpenAI defaults and prefers max_completion_tokens', () => {
    const [job] = buildChatJobs(chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, max_completion_tokens: 7 }), 'm');
    expect(job.sampling).toMatchObject({ temperature: 1, topP: 1, maxTokens: 7, stop: [] });
    expect(job.messages).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it('joins text parts and maps a single stop string to a list', () => {
    const [job] = buildChatJobs(
      chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }], stop: 'END' }),
      'm',
    );
    expect(job.messages[0].content).toBe('a\nb');
    expect(job.sampling.stop).toEqual(['END']);
  });

  it('gives each of n choices its own seed derived from the request seed', () => {
    const jobs = buildChatJobs(chat({ messages: [{ role: 'user', content: 'x' }], n: 3, seed: 10 }), 'm');
    expect(jobs.map((j) => j.sampling.seed)).toEqual([10, 11, 12]);
  });

  it('rejects image parts for a text-only model with the part as param', () => {
    const dto = chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'x' } }] }] });
    try {
      buildChatJobs(dto, 'm');
      throw new Error('expected a rejection');
    } catch (err) {
      expect(err).toBeInstanceOf(OpenAIError);
      expect((err as OpenAIError).getStatus()).toBe(400);
      expect((err as OpenAIError).body.error.param).toBe('messages[0].content[1]');
    }
  });
});

describe('buildCompletionJobs', () => {
  it('defaults max_tokens to 16 like OpenAI', () => {
    expect(buildCompletionJobs(completion({ prompt: 'x' }), 'm')[0].sampling.maxTokens).toBe(16);
  });

  it('makes one job per prompt and per choice, prompt-major', () => {
    const jobs = buildCompletionJobs(completion({ prompt: ['a', 'b'], n: 2 }), 'm');
    expect(jobs.map((j) => j.prompt)).toEqual(['a', 'a', 'b', 'b']);
  });

  it('treats a flat number array as one token prompt and nested arrays as several', () => {
    expect(buildCompletionJobs(completion({ prompt: [1, 2, 3] }), 'm').map((j) => j.prompt)).toEqual([[1, 2, 3]]);
    expect(buildCompletionJobs(completion({ prompt: [[1], [2]] }), 'm').map((j) => j.prompt)).toEqual([[1], [2]]);
  });

  it('passes echo, logprobs and logit_bias on to the jobs', () => {
    const [job] = buildCompletionJobs(completion({ prompt: 'x', echo: true, logprobs: 2, logit_bias: { '5': -100 } }), 'm');
    expect(job).toMatchObject({ echo: true, logprobs: { top: 2 }, sampling: { logitBias: { '5': -100 } } });
  });

  it('says plainly which parameters it cannot honour', () => {
    expect(() => buildCompletionJobs(completion({ prompt: 'x', suffix: 'y' }), 'm')).toThrow(/suffix/);
  });
});

const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

function rejection(fn: () => unknown): { param: string | null; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OpenAIError);
    expect((err as OpenAIError).getStatus()).toBe(400);
    return (err as OpenAIError).body.error;
  }
  throw new Error('expected a rejection');
}

describe('buildChatJobs with tools and structured output', () => {
  it('maps tools, a named tool_choice, response_format and logprobs', () => {
    const [job] = buildChatJobs(
      chat({
        messages: [{ role: 'user', content: 'x' }],
        tools: [weather],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        parallel_tool_calls: false,
        logprobs: true,
        top_logprobs: 3,
      }),
      'm',
    );
    expect(job.tools).toEqual([{ name: 'get_weather', parameters: weather.function.parameters }]);
    expect(job.toolChoice).toEqual({ name: 'get_weather' });
    expect(job.parallelToolCalls).toBe(false);
    expect(job.logprobs).toEqual({ top: 3 });
  });

  it('keeps the tool-call round trip: assistant calls and the tool answers that follow', () => {
    const [job] = buildChatJobs(
      chat({
        messages: [
          { role: 'user', content: 'weather?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
        ],
        tools: [weather],
      }),
      'm',
    );
    expect(job.messages[1].toolCalls).toEqual([{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }]);
    expect(job.messages[2]).toEqual({ role: 'tool', content: '{"temp":3}', toolCallId: 'call_1', name: 'get_weather' });
  });

  it.each([
    ['a tool message without a preceding call', [{ role: 'tool', tool_call_id: 'nope', content: 'x' }], 'messages[0].tool_call_id'],
    [
      'a call left unanswered before the next user turn',
      [
        { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'user', content: 'x' },
      ],
      'messages[1]',
    ],
  ])('rejects %s', (_what, messages, param) => {
    expect(rejection(() => buildChatJobs(chat({ messages }), 'm')).param).toBe(param);
  });

  it('rejects a tool_choice naming an unknown function, and tool_choice without tools', () => {
    const named = { type: 'function', function: { name: 'nope' } };
    expect(rejection(() => buildChatJobs(chat({ messages: [{ role: 'user', content: 'x' }], tools: [weather], tool_choice: named }), 'm')).param).toBe(
      'tool_choice.function.name',
    );
    expect(rejection(() => buildChatJobs(chat({ messages: [{ role: 'user', content: 'x' }], tool_choice: 'required' }), 'm')).param).toBe('tool_choice');
  });

  it.each([
    ['an unknown type', { type: 'nonsense' }, 'tools[0].function.parameters.type'],
    ['a oneOf that is not a list', { type: 'object', properties: { a: { oneOf: 5 } } }, 'tools[0].function.parameters.properties.a.oneOf'],
    ['required that is not a list of names', { type: 'object', required: 'a' }, 'tools[0].function.parameters.required'],
  ])('rejects tool parameters with %s, naming the spot', (_what, parameters, param) => {
    const tools = [{ type: 'function', function: { name: 'f', parameters } }];
    expect(rejection(() => buildChatJobs(chat({ messages: [{ role: 'user', content: 'x' }], tools }), 'm')).param).toBe(param);
  });

  it('rejects a malformed response_format schema', () => {
    const rf = { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'nope' } } } } };
    expect(rejection(() => buildChatJobs(chat({ messages: [{ role: 'user', content: 'x' }], response_format: rf }), 'm')).param).toBe(
      'response_format.json_schema.schema.properties.a.type',
    );
  });

  it('rejects the deprecated functions and function_call with a pointer to tools', () => {
    const err = rejection(() => buildChatJobs(chat({ messages: [{ role: 'user', content: 'x' }], functions: [{ name: 'f' }] }), 'm'));
    expect(err.param).toBe('functions');
    expect(err.message).toMatch(/use 'tools'/);
  });

  it('rejects a json_schema response_format without a schema name, and top_logprobs without logprobs', () => {
    const rf = { type: 'json_schema', json_schema: { schema: { type: 'object' } } };
    expect(rejection(() => buildChatJobs(chat({ messages: [{ role: 'user', content: 'x' }], response_format: rf }), 'm')).param).toBe(
      'response_format.json_schema.name',
    );
    expect(rejection(() => buildChatJobs(chat({ messages: [{ role: 'user', content: 'x' }], top_logprobs: 2 }), 'm')).param).toBe('top_logprobs');
  });
});
