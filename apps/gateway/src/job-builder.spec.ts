import { plainToInstance } from 'class-transformer';
import { CreateChatCompletionDto } from './dto/create-chat-completion.dto';
import { CreateCompletionDto } from './dto/create-completion.dto';
import { buildChatJobs, buildCompletionJobs } from './job-builder';
import { OpenAIError } from './openai-error';

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

  it('says plainly which parameters it cannot honour yet', () => {
    expect(() => buildCompletionJobs(completion({ prompt: 'x', echo: true }), 'm')).toThrow(/echo/);
    expect(() => buildCompletionJobs(completion({ prompt: 'x', logprobs: 2 }), 'm')).toThrow(/logprobs/);
  });
});
