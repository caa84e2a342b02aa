/**
 * Runs an ONNX model with onnxruntime-node directly, outside Switchyard, for tests to compare with.
 * It runs in a child node process: inside jest's sandbox, onnxruntime's native tensors fail its own
 * typed-array checks (the sandbox has its own Float32Array).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from './stack';

const SCRIPT = `
const ort = require(require.resolve('onnxruntime-node', { paths: [process.argv[1]] }));
const [file, idsJson] = process.argv.slice(2);
const ids = JSON.parse(idsJson);
(async () => {
  const session = await ort.InferenceSession.create(file);
  const t = (f) => new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(f(i)))), [1, ids.length]);
  const out = await session.run({ input_ids: t((i) => ids[i]), attention_mask: t(() => 1), token_type_ids: t(() => 0) });
  const result = {};
  for (const [name, tensor] of Object.entries(out)) result[name] = Array.from(tensor.data);
  process.stdout.write(JSON.stringify(result));
})().catch((err) => { process.stderr.write(String(err.stack || err)); process.exit(1); });
`;

/** Every output of one run on a single sequence (token type 0, no padding), flattened. */
export async function runOnnxDirect(modelFile: string, ids: number[]): Promise<Record<string, number[]>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', SCRIPT, ROOT, modelFile, JSON.stringify(ids)]);
  return JSON.parse(stdout) as Record<string, number[]>;
}
