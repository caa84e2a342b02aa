/**
 * Builds ONNX graphs in code and encodes them as a ModelProto (onnx.proto3 field numbers). Only the
 * parts a transformer needs: float/int64 initializers (inline, or as external data in a file beside
 * the model for graphs past protobuf's 2 GB limit), nodes with int, float, string, ints and graph
 * (If branch) attributes, and tensor inputs and outputs with symbolic dimensions.
 */
import { ProtoWriter } from './protobuf-writer';

/** TensorProto.DataType values used here. */
export enum OnnxType {
  FLOAT = 1,
  INT32 = 6,
  INT64 = 7,
  BOOL = 9,
}

/** AttributeProto.AttributeType values used here. */
enum AttrType {
  FLOAT = 1,
  INT = 2,
  STRING = 3,
  GRAPH = 5,
  INTS = 7,
}

/** A plain number is a float, `{ int }` an int, `{ str }` a string, an array a list of ints, an OnnxGraph a subgraph. */
export type AttrValue = number | { int: number } | { str: string } | number[] | OnnxGraph;

/** A dimension: a fixed size or a symbolic name such as 'batch'. */
export type Dim = number | string;

interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs: Record<string, AttrValue>;
}

interface Initializer {
  name: string;
  dims: number[];
  type: OnnxType;
  raw: Uint8Array;
  /** Set when the data lives in a file beside the model (`raw` is then empty). */
  external?: ExternalData;
}

/** Where an external initializer's bytes are: a file relative to the model, and a byte range in it. */
export interface ExternalData {
  location: string;
  offset: number;
  length: number;
}

interface ValueInfo {
  name: string;
  type: OnnxType;
  /** Omitted: rank unknown (If branch outputs, whose shapes ONNX Runtime infers). */
  dims?: Dim[];
}

export const ONNX_OPSET = 17;
/** IR version 8 goes with opset 17 (ONNX 1.12). */
export const ONNX_IR_VERSION = 8;

export class OnnxGraph {
  private readonly nodes: Node[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializerNames = new Set<string>();
  /**
   * One counter for node and value names, shared with subgraphs: every node takes the next number
   * whether or not its output is named (a named output once left the counter where it was, and the
   * next unnamed node got the same node name, which ONNX Runtime rejects), and a subgraph's names
   * never shadow its parent's.
   */
  private readonly counter: { next: number };

  constructor(
    readonly name: string,
    counter?: { next: number },
  ) {
    this.counter = counter ?? { next: 0 };
  }

  /** A graph for an If branch: it sees this graph's values and initializers by name. */
  subgraph(name: string): OnnxGraph {
    return new OnnxGraph(name, this.counter);
  }

  input(name: string, type: OnnxType, dims: Dim[]): string {
    this.inputs.push({ name, type, dims });
    return name;
  }

  output(name: string, type: OnnxType, dims?: Dim[]): void {
    this.outputs.push({ name, type, dims });
  }

  /** A float32 initializer; returns its name. */
  floats(name: string, dims: number[], data: Float32Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new Error(`${name}: ${data.length} values for dims [${dims.join(', ')}]`);
    this.claim(name);
    this.initializers.push({ name, dims, type: OnnxType.FLOAT, raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /**
   * A float32 initializer whose bytes the caller wrote to `external.location` (TensorProto
   * data_location EXTERNAL): ONNX Runtime reads them from there, relative to the model file, so the
   * model must be loaded from its path.
   */
  externalFloats(name: string, dims: number[], external: ExternalData): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (external.length !== count * 4) throw new Error(`${name}: ${external.length} bytes for dims [${dims.join(', ')}]`);
    this.claim(name);
    this.initializers.push({ name, dims, type: OnnxType.FLOAT, raw: new Uint8Array(0), external: { ...external } });
    return name;
  }

  /** An int64 initializer (shapes, axes, indices); returns its name. */
  int64s(name: string, dims: number[], data: ArrayLike<number>): string {
    this.claim(name);
    const raw = new Uint8Array(data.length * 8);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, BigInt(data[i]!), true);
    this.initializers.push({ name, dims, type: OnnxType.INT64, raw });
    return name;
  }

  /** A float scalar constant (rank 0). */
  scalar(value: number, name = this.fresh('const')): string {
    return this.floats(name, [], Float32Array.of(value));
  }

  /** Adds a node and returns its first output's name. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputName?: string): string {
    const id = this.counter.next++;
    const out = outputName ?? `${op.toLowerCase()}_${id}`;
    this.nodes.push({ op, inputs, outputs: [out], name: `${op}_${id}`, attrs });
    return out;
  }

  /** Adds a node with several outputs (If, Split); returns their names. */
  multi(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): string[] {
    this.nodes.push({ op, inputs, outputs, name: `${op}_${this.counter.next++}`, attrs });
    return outputs;
  }

  /** ONNX Runtime takes the last of two initializers with one name (with a warning): refuse it. */
  private claim(name: string): void {
    if (this.initializerNames.has(name)) throw new Error(`duplicate initializer '${name}'`);
    this.initializerNames.add(name);
  }

  fresh(prefix: string): string {
    return `${prefix}_${this.counter.next++}`;
  }

  /** The GraphProto (also the body of an If branch). */
  encodeGraph(): ProtoWriter {
    const graph = new ProtoWriter();
    for (const n of this.nodes) graph.message(1, encodeNode(n));
    graph.string(2, this.name);
    for (const t of this.initializers) graph.message(5, encodeTensor(t));
    for (const v of this.inputs) graph.message(11, encodeValueInfo(v));
    for (const v of this.outputs) graph.message(12, encodeValueInfo(v));
    return graph;
  }

  /** The ModelProto; `metadata` becomes its metadata_props (what sherpa-onnx reads a voice's settings from). */
  encode(producer = 'switchyard-model-gen', metadata: Record<string, string> = {}): Uint8Array {
    const model = new ProtoWriter();
    model.int(1, ONNX_IR_VERSION);
    model.string(2, producer);
    model.message(7, this.encodeGraph());
    model.message(8, new ProtoWriter().string(1, '').int(2, ONNX_OPSET));
    for (const [key, value] of Object.entries(metadata)) model.message(14, new ProtoWriter().string(1, key).string(2, value));
    return model.finish();
  }
}

function encodeNode(n: Node): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.op);
  for (const [name, value] of Object.entries(n.attrs)) {
    const a = new ProtoWriter().string(1, name);
    if (value instanceof OnnxGraph) a.message(6, value.encodeGraph()).int(20, AttrType.GRAPH);
    else if (Array.isArray(value)) a.packedInts(8, value).int(20, AttrType.INTS);
    else if (typeof value === 'number') a.float(2, value).int(20, AttrType.FLOAT);
    else if ('str' in value) a.string(4, value.str).int(20, AttrType.STRING);
    else a.int(3, value.int).int(20, AttrType.INT);
    w.message(5, a);
  }
  return w;
}

function encodeTensor(t: Initializer): ProtoWriter {
  const w = new ProtoWriter();
  if (t.dims.length > 0) w.packedInts(1, t.dims);
  w.int(2, t.type);
  w.string(8, t.name);
  if (t.external) {
    // external_data: StringStringEntryProto { key = 1, value = 2 }; data_location EXTERNAL = 1.
    const entry = (key: string, value: string): ProtoWriter => new ProtoWriter().string(1, key).string(2, value);
    w.message(13, entry('location', t.external.location));
    w.message(13, entry('offset', String(t.external.offset)));
    w.message(13, entry('length', String(t.external.length)));
    w.int(14, 1);
  } else {
    w.bytes(9, t.raw);
  }
  return w;
}

function encodeValueInfo(v: ValueInfo): ProtoWriter {
  const tensorType = new ProtoWriter().int(1, v.type);
  if (v.dims) {
    const shape = new ProtoWriter();
    for (const d of v.dims) {
      shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
    }
    tensorType.message(2, shape);
  }
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}
