import type { JobEvent } from '@switchyard/contracts';
import { JobEventReader } from './job-events.subscriber';
import type { RedisConnections } from './redis-connections';

/** A stand-in for the replay stream (unit test: the e2e tests use a real Redis). */
function fakeConnections(log: JobEvent[]): { connections: RedisConnections; xrange: jest.Mock } {
  const xrange = jest.fn(async () => log.map((e, i) => [`${i}-0`, ['e', JSON.stringify(e)]]));
  return { connections: { command: { xrange } } as unknown as RedisConnections, xrange };
}

const delta = (seq: number, text: string): JobEvent => ({ type: 'delta', seq, text });

describe('JobEventReader', () => {
  it('yields events in sequence order', async () => {
    const { connections, xrange } = fakeConnections([]);
    const r = new JobEventReader(connections, 'j', async () => undefined);
    r.push(JSON.stringify(delta(0, 'a')));
    r.push(JSON.stringify(delta(1, 'b')));
    expect(await r.next(50)).toEqual(delta(0, 'a'));
    expect(await r.next(50)).toEqual(delta(1, 'b'));
    expect(xrange).not.toHaveBeenCalled();
  });

  it('fills a gap from the replay stream', async () => {
    const log = [delta(0, 'a'), delta(1, 'b'), delta(2, 'c')];
    const { connections, xrange } = fakeConnections(log);
    const r = new JobEventReader(connections, 'j', async () => undefined);
    r.push(JSON.stringify(log[0]));
    r.push(JSON.stringify(log[2]));
    expect(await r.next(50)).toEqual(log[0]);
    expect(await r.next(50)).toEqual(log[1]);
    expect(await r.next(50)).toEqual(log[2]);
    expect(xrange).toHaveBeenCalledTimes(1);
  });

  it('recovers a lost last event from the stream after silence', async () => {
    const log: JobEvent[] = [delta(0, 'a'), { type: 'done', seq: 1, finishReason: 'stop', usage: { promptTokens: 1, completionTokens: 1 } }];
    const { connections } = fakeConnections(log);
    const r = new JobEventReader(connections, 'j', async () => undefined);
    r.push(JSON.stringify(log[0]));
    expect(await r.next(20)).toEqual(log[0]);
    expect(await r.next(20)).toEqual(log[1]);
  });

  it('moves past a gap the stream cannot fill (lost with a restarted Redis) after a bound, without spinning', async () => {
    const { connections, xrange } = fakeConnections([]);
    const r = new JobEventReader(connections, 'j', async () => undefined, 300);
    r.push(JSON.stringify(delta(0, 'a')));
    r.push(JSON.stringify(delta(2, 'c')));
    expect(await r.next(50)).toEqual(delta(0, 'a'));
    const started = Date.now();
    let next: JobEvent | undefined;
    while (next === undefined && Date.now() - started < 2000) next = await r.next(50);
    expect(next).toEqual(delta(2, 'c'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(xrange.mock.calls.length).toBeLessThan(20);
  });

  it('ignores duplicates and garbage', async () => {
    const { connections } = fakeConnections([]);
    const r = new JobEventReader(connections, 'j', async () => undefined);
    r.push('not json');
    r.push(JSON.stringify(delta(0, 'a')));
    expect(await r.next(20)).toEqual(delta(0, 'a'));
    r.push(JSON.stringify(delta(0, 'a')));
    expect(await r.next(20)).toBeUndefined();
  });
});
