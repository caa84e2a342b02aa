import { accessLogLevel } from './access-log.middleware';

describe('accessLogLevel', () => {
  it('logs a 503 (retry later) as a warning and other 5xx as errors', () => {
    expect(accessLogLevel('/v1/chat/completions', 503)).toBe('warn');
    expect(accessLogLevel('/v1/chat/completions', 500)).toBe('error');
    expect(accessLogLevel('/v1/chat/completions', 502)).toBe('error');
    expect(accessLogLevel('/v1/chat/completions', 504)).toBe('error');
  });

  it('logs client errors and successes as info, and a socket error as an error', () => {
    expect(accessLogLevel('/v1/embeddings', 200)).toBe('info');
    expect(accessLogLevel('/v1/embeddings', 400)).toBe('info');
    expect(accessLogLevel('/v1/embeddings', 429)).toBe('info');
    expect(accessLogLevel('/v1/embeddings', 200, new Error('socket hang up'))).toBe('error');
  });

  it('keeps probes and metrics scrapes at debug', () => {
    expect(accessLogLevel('/health/ready', 503)).toBe('debug');
    expect(accessLogLevel('/metrics', 200)).toBe('debug');
  });
});
