/** The depth sum and the serving-worker count an autoscaler reads (pure functions of Redis' answers). */
import type { ModelDescriptor, WorkerHeartbeat } from '@switchyard/contracts';
import { servingWorkers, toDepth } from './autoscale.service';

const model = { name: 'tiny-chat', backend: 'llama.cpp' } as ModelDescriptor;

describe('toDepth', () => {
  it('adds every job that needs or holds a worker, and shows paused jobs as waiting', () => {
    expect(toDepth(model, { waiting: 2, paused: 1, prioritized: 3, active: 4, delayed: 5 }, 6, 2)).toEqual({
      object: 'autoscale.depth',
      model: 'tiny-chat',
      backend: 'llama.cpp',
      depth: 21,
      waiting: 3,
      prioritized: 3,
      active: 4,
      delayed: 5,
      awaiting_worker: 6,
      workers: 2,
    });
  });

  it('reads missing counts as 0', () => {
    expect(toDepth(model, {}, 1, 0)).toMatchObject({ depth: 1, waiting: 0, active: 0, awaiting_worker: 1 });
  });
});

describe('servingWorkers', () => {
  const hb = (id: string, states: Array<[string, string]>): WorkerHeartbeat => ({ id, models: states.map(([name, state]) => ({ name, state })) }) as unknown as WorkerHeartbeat;

  it('counts only workers holding the model ready', () => {
    const workers = [hb('a', [['tiny-chat', 'ready']]), hb('b', [['tiny-chat', 'loading']]), hb('c', [['other', 'ready']]), hb('d', [['other', 'ready'], ['tiny-chat', 'ready']])];
    expect(servingWorkers('tiny-chat', workers)).toBe(2);
    expect(servingWorkers('none', workers)).toBe(0);
  });
});
