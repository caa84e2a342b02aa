import './node-realm.testing';
import * as ort from 'onnxruntime-node';
import { OnnxGraph, OnnxType } from './onnx-graph';

const load = (g: OnnxGraph): Promise<ort.InferenceSession> => ort.InferenceSession.create(g.encode());

describe('OnnxGraph', () => {
  it('gives every node its own name when a named output follows an unnamed one', async () => {
    const g = new OnnxGraph('names');
    const x = g.input('x', OnnxType.FLOAT, [2]);
    const doubled = g.op('Add', [x, x]);
    g.op('Add', [doubled, x], {}, 'y');
    g.op('Add', [g.op('Add', [x, x]), x], {}, 'z');
    g.output('y', OnnxType.FLOAT, [2]);
    g.output('z', OnnxType.FLOAT, [2]);
    const session = await load(g);
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [2]) });
      expect(Array.from(out.y!.data as Float32Array)).toEqual([3, 6]);
    } finally {
      await session.release();
    }
  });

  it('refuses two initializers with one name', () => {
    const g = new OnnxGraph('dup');
    g.int64s('axis', [], [0]);
    expect(() => g.int64s('axis', [], [1])).toThrow(/duplicate initializer 'axis'/);
  });

  it('encodes If branches that read the outer graph', async () => {
    const g = new OnnxGraph('branch');
    const x = g.input('x', OnnxType.FLOAT, [2]);
    const cond = g.input('cond', OnnxType.BOOL, [1]);
    const ten = g.scalar(10, 'ten');
    const then = g.subgraph('then');
    then.output(then.op('Mul', [x, ten], {}, 'then_out'), OnnxType.FLOAT);
    const otherwise = g.subgraph('else');
    otherwise.output(otherwise.op('Neg', [x], {}, 'else_out'), OnnxType.FLOAT);
    g.multi('If', [cond], ['y'], { then_branch: then, else_branch: otherwise });
    g.output('y', OnnxType.FLOAT, [2]);
    const session = await load(g);
    try {
      const run = async (c: boolean): Promise<number[]> => {
        const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [2]), cond: new ort.Tensor('bool', [c], [1]) });
        return Array.from(out.y!.data as Float32Array);
      };
      expect(await run(true)).toEqual([10, 20]);
      expect(await run(false)).toEqual([-1, -2]);
    } finally {
      await session.release();
    }
  });
});
