import { BACKENDS, JOB_KINDS, acceptsKind, type JobKind } from './backends';
import { queueNameFor } from './job-routing';
import type { ModelDescriptor, ModelDescriptorBase } from './models';
import { ONNX_TASKS } from './onnx-models';
import type { Backend } from './queues';

const BACKEND_NAMES: Backend[] = ['llama.cpp', 'onnx', 'upstream', 'runner'];

const base: Omit<ModelDescriptorBase, 'backend'> = {
  name: 'm:1/x',
  aliases: [],
  contextSize: 0,
  maxQueue: 1,
  autoLoad: false,
  preload: false,
  keepAliveMs: -1,
  created: 0,
  ownedBy: 'test',
};

/** One model of each shape a backend has (the descriptors' other fields do not matter to the table). */
const models = [
  { ...base, backend: 'llama.cpp' },
  { ...base, backend: 'llama.cpp', embedding: true },
  ...ONNX_TASKS.map((task) => ({ ...base, backend: 'onnx', task })),
  { ...base, backend: 'upstream' },
  { ...base, backend: 'runner', format: 'llm' },
  { ...base, backend: 'runner', format: 'upstream' },
] as unknown as ModelDescriptor[];

describe('backend table', () => {
  it('has an entry for every backend', () => {
    expect(Object.keys(BACKENDS).sort()).toEqual([...BACKEND_NAMES].sort());
  });

  it('gives every job kind to some backend, and lists only known kinds', () => {
    const given = new Set(Object.values(BACKENDS).flatMap((b) => b.jobKinds));
    expect([...given].sort()).toEqual([...JOB_KINDS].sort());
  });

  it("lets a model accept only kinds its backend's workers handle, and at least one", () => {
    for (const m of models) {
      const accepted = BACKENDS[m.backend].accepts(m as never);
      expect(accepted.length).toBeGreaterThan(0);
      for (const k of accepted) expect(BACKENDS[m.backend].jobKinds).toContain(k);
    }
  });

  it('keeps the queue names (a migration)', () => {
    const names = Object.fromEntries(BACKEND_NAMES.map((b) => [b, queueNameFor({ ...base, backend: b } as ModelDescriptor)]));
    expect(names).toEqual({
      'llama.cpp': 'llm.m~3a~1~2f~x',
      onnx: 'onnx.m~3a~1~2f~x',
      upstream: 'upstream.m~3a~1~2f~x',
      runner: 'runner.m~3a~1~2f~x',
    });
  });

  it('routes each kind as the endpoints did before the table', () => {
    const accepted = (i: number): JobKind[] => JOB_KINDS.filter((k) => acceptsKind(models[i], k));
    expect(accepted(0)).toEqual(['chat', 'completion', 'tokens']);
    expect(accepted(1)).toEqual(['tokens', 'embeddings']);
    expect([accepted(2), accepted(3), accepted(4), accepted(5), accepted(6), accepted(7)]).toEqual([['embeddings'], ['classify'], ['rerank'], ['transcribe'], ['speech'], ['image']]);
    expect(accepted(8)).toEqual(['upstream']);
    expect(accepted(9)).toEqual(['chat', 'completion', 'tokens']);
    expect(accepted(10)).toEqual(['upstream']);
  });

  it('keeps the job options and lock times each backend ran with', () => {
    for (const b of BACKEND_NAMES) {
      expect(BACKENDS[b].jobOptions).toEqual({ attempts: 1, removeOnComplete: true, removeOnFail: { age: 3600, count: 1000 } });
      expect(BACKENDS[b].stalledIntervalMs).toBe(5_000);
      expect(BACKENDS[b].lockDurationMs).toBe(b === 'onnx' ? 30_000 : 15_000);
    }
  });
});
