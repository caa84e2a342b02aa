import { checkBodyLimits, MAX_JSON_DEPTH, MAX_OBJECT_KEYS } from './body-limits';

function nested(depth: number): object {
  let inner: object = {};
  for (let i = 1; i < depth; i++) inner = { a: inner };
  return inner;
}

describe('body limits', () => {
  it('accepts an ordinary request', () => {
    expect(checkBodyLimits({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], logit_bias: { '1': 5 } })).toBeUndefined();
  });

  it('refuses nesting past the bound, without recursion on 100,000 levels', () => {
    expect(checkBodyLimits(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(checkBodyLimits(nested(MAX_JSON_DEPTH + 1))?.body.error).toMatchObject({ code: 'invalid_value', type: 'invalid_request_error' });
    const err = checkBodyLimits({ model: 'm', response_format: nested(100_000) });
    expect(err?.getStatus()).toBe(400);
    expect(err?.body.error.param).toMatch(/^response_format\.a\.a/);
    expect(err?.body.error.message).toContain('nested too deeply');
  });

  it('refuses an object with too many keys, naming it', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_OBJECT_KEYS + 1 }, (_, i) => [String(i), 1]));
    expect(checkBodyLimits({ logit_bias: many })?.body.error).toMatchObject({ param: 'logit_bias', code: 'invalid_value' });
    expect(checkBodyLimits({ messages: [{ role: 'user', content: 'x', extra: many }] })?.body.error.param).toBe('messages[0].extra');
    expect(checkBodyLimits(many)?.body.error.param).toBeNull();
  });

  it('bounds messages tighter than other arrays', () => {
    const messages = Array.from({ length: 5000 }, () => ({ role: 'user', content: 'x' }));
    expect(checkBodyLimits({ messages })?.body.error).toMatchObject({ param: 'messages', code: 'invalid_value' });
    expect(checkBodyLimits({ prompt: Array.from({ length: 5000 }, () => 1) })).toBeUndefined();
  });
});
