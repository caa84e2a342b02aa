import { parseToolCalls, parseTools } from './chat-options';
import { OpenAIError } from '../core/openai-error';

/** The 400 a parser threw, as OpenAI's body; fails when it threw anything else (a TypeError was a 500). */
function rejection(fn: () => unknown): { status: number; param: string | null } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof OpenAIError)) throw err;
    return { status: err.getStatus(), param: err.body.error.param };
  }
  throw new Error('expected a rejection');
}

describe('parseToolCalls', () => {
  // Fuzz case #756 (seed 1): `tool_calls: [null]` read `null.function` and answered 500.
  it.each([null, 1, 'call', true, [], [{ id: 'c' }]])('rejects a tool call that is not an object (%j) naming the element', (element) => {
    expect(rejection(() => parseToolCalls([{ id: 'ok', type: 'function', function: { name: 'f', arguments: '{}' } }, element], 1))).toEqual({
      status: 400,
      param: 'messages[1].tool_calls[1]',
    });
  });

  it('still reads a well-formed call', () => {
    expect(parseToolCalls([{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }], 0)).toEqual([
      { id: 'c1', name: 'f', arguments: '{"a":1}' },
    ]);
  });
});

describe('parseTools', () => {
  it.each([null, 2, 'f', []])('rejects a tool that is not an object (%j) naming the element', (element) => {
    expect(rejection(() => parseTools([{ type: 'function', function: { name: 'f' } }, element]))).toEqual({ status: 400, param: 'tools[1]' });
  });
});
