import { llmQueueName } from './queues';

describe('llmQueueName', () => {
  it('keeps simple names readable', () => {
    expect(llmQueueName('tiny-chat')).toBe('llm.tiny-chat');
    expect(llmQueueName('qwen2.5_0.5b')).toBe('llm.qwen2.5_0.5b');
  });

  it('escapes characters BullMQ rejects, keeping distinct names distinct', () => {
    const a = llmQueueName('qwen2.5:0.5b');
    const b = llmQueueName('qwen2.5/0.5b');
    expect(a).not.toContain(':');
    expect(b).not.toContain('/');
    expect(a).not.toBe(b);
  });
});
