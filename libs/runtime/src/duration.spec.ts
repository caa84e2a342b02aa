import { parseDurationMs } from './duration';

describe('parseDurationMs', () => {
  it.each([
    [30, 30_000],
    ['30', 30_000],
    ['300ms', 300],
    ['5m', 300_000],
    ['1.5h', 5_400_000],
    [0, 0],
    ['0', 0],
    [-1, -1],
    ['-1', -1],
    ['-5m', -1],
  ])('%j → %j', (input, ms) => expect(parseDurationMs(input)).toBe(ms));

  it.each([['5 minutes'], [''], [null], [{}], [Number.NaN]])('rejects %j', (input) => {
    expect(parseDurationMs(input)).toBeUndefined();
  });
});
