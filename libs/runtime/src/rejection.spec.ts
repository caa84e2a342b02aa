import { rejectionEvent } from './job-errors';
import { Rejection } from './rejection';
import { CommandError } from './worker-lifecycle';

describe('Rejection', () => {
  it('becomes the error event with its fields, the type following the status', () => {
    expect(rejectionEvent(Rejection.badRequest("'dimensions' is too large.", 'dimensions', 'invalid_value'))).toEqual({
      type: 'error',
      status: 400,
      errorType: 'invalid_request_error',
      message: "'dimensions' is too large.",
      code: 'invalid_value',
      param: 'dimensions',
    });
    expect(rejectionEvent(new Rejection({ message: 'Slow down.', code: 'rate_limited', status: 429, retryAfterSeconds: 3 }))).toEqual({
      type: 'error',
      status: 429,
      errorType: 'rate_limit_error',
      message: 'Slow down.',
      code: 'rate_limited',
      param: null,
      retryAfterSeconds: 3,
    });
    expect(new Rejection({ message: 'm', code: 'c', status: 503 }).type).toBe('server_error');
    expect(new Rejection({ message: 'm', code: 'c', status: 502, type: 'invalid_request_error' }).type).toBe('invalid_request_error');
  });

  it('is what a refused worker command is', () => {
    const e = new CommandError(404, 'model_not_loaded', "'m' is not loaded on this worker.");
    expect(e).toBeInstanceOf(Rejection);
    expect([e.status, e.code, e.message, e.param]).toEqual([404, 'model_not_loaded', "'m' is not loaded on this worker.", null]);
  });
});
