import type { ArgumentMetadata } from '@nestjs/common';
import { ChatMessageDto, CreateChatCompletionDto } from '../chat/create-chat-completion.dto';
import { CreateCompletionDto } from '../chat/create-completion.dto';
import { ApplyTemplateDto } from '../tokens/tokens.dto';
import { OpenAIError } from './openai-error';
import { createValidationPipe } from './validation';

const pipe = createValidationPipe();
const meta = (metatype: new () => object): ArgumentMetadata => ({ type: 'body', metatype });

async function reject(metatype: new () => object, body: object): Promise<OpenAIError> {
  try {
    await pipe.transform(body, meta(metatype));
  } catch (err) {
    return err as OpenAIError;
  }
  throw new Error('expected validation to fail');
}

describe('validation pipe', () => {
  const ok = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

  it('strips unknown fields instead of rejecting them', async () => {
    const out = (await pipe.transform({ ...ok, mystery: 1 }, meta(CreateChatCompletionDto))) as Record<string, unknown>;
    expect(out).not.toHaveProperty('mystery');
    expect(out).toBeInstanceOf(CreateChatCompletionDto);
  });

  it('reports a wrong type before range checks, with the param path', async () => {
    const err = await reject(CreateChatCompletionDto, { ...ok, temperature: '0.5' });
    expect(err).toBeInstanceOf(OpenAIError);
    expect(err.body.error).toMatchObject({ param: 'temperature', type: 'invalid_request_error' });
    expect(err.body.error.message).toContain('expected a number, but got a string');
  });

  it('names nested fields like OpenAI (messages[1].role)', async () => {
    const err = await reject(CreateChatCompletionDto, { ...ok, messages: [ok.messages[0], { role: 'x', content: 'y' }] });
    expect(err.body.error.param).toBe('messages[1].role');
  });

  it('accepts null for optional fields, as OpenAI clients send them', async () => {
    const body = { ...ok, temperature: null, stop: null, max_tokens: null, stream_options: null };
    const out = (await pipe.transform(body, meta(CreateChatCompletionDto))) as CreateChatCompletionDto;
    expect(out).toBeInstanceOf(CreateChatCompletionDto);
    // The nulls are kept as null (the request's "not set"), everything else as sent.
    expect(out).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: null, stop: null, max_tokens: null, stream_options: null });
    expect(out.messages[0]).toBeInstanceOf(ChatMessageDto);
    // Only optional ones: a null where a value is required is still refused.
    const err = await reject(CreateChatCompletionDto, { ...ok, model: null });
    expect(err.body.error).toMatchObject({ param: 'model', type: 'invalid_request_error' });
  });

  it('checks the union-typed prompt', async () => {
    expect((await reject(CreateCompletionDto, { model: 'm', prompt: [1, 'a'] })).body.error.param).toBe('prompt');
    expect((await reject(CreateCompletionDto, { model: 'm', prompt: [[1, 2], []] })).body.error.param).toBe('prompt');
    expect((await reject(CreateCompletionDto, { model: 'm', prompt: [] })).body.error.param).toBe('prompt');
    for (const prompt of ['a b', ['a', 'b'], [1, 2], [[1, 2], [3]]]) {
      const out = (await pipe.transform({ model: 'm', prompt }, meta(CreateCompletionDto))) as CreateCompletionDto;
      expect(out).toBeInstanceOf(CreateCompletionDto);
      expect(out.prompt).toEqual(prompt);
    }
  });

  it('carries JSON-valued fields over as parsed: no per-key copy, which was quadratic in the key count', async () => {
    const logitBias = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [String(i), 1]));
    const out = (await pipe.transform({ ...ok, logit_bias: logitBias }, meta(CreateChatCompletionDto))) as CreateChatCompletionDto;
    expect(out.logit_bias).toBe(logitBias);
    expect(out.messages[0]).toBeInstanceOf(ChatMessageDto);
  });

  it('strips unknown fields of nested DTOs too', async () => {
    const out = (await pipe.transform({ ...ok, messages: [{ role: 'user', content: 'hi', junk: 1 }] }, meta(CreateChatCompletionDto))) as CreateChatCompletionDto;
    expect(out.messages[0]).not.toHaveProperty('junk');
  });

  it('refuses tools that are not objects on /apply-template', async () => {
    expect((await reject(ApplyTemplateDto, { messages: ok.messages, tools: [null] })).body.error.param).toBe('tools');
  });
});

