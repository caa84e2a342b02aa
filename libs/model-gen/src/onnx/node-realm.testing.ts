/**
 * For jest tests that run ONNX Runtime (directly or through transformers.js): import this first.
 *
 * onnxruntime-node's addon makes its output arrays in Node's own realm, and onnxruntime-common and
 * transformers.js check tensors with `instanceof Float32Array` (onnxruntime-common captures the
 * constructors when it loads). In a jest test file, a realm of its own, every run then fails with "A
 * float32 tensor's data must be type of function Float32Array()". This gives the test file Node's
 * typed-array constructors, before onnxruntime loads. Jest gives each test file its own global, so
 * nothing leaks into other files; outside jest it changes nothing (the constructors are the same).
 */
import { runInThisContext } from 'node:vm';

const NAMES = ['ArrayBuffer', 'Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];
for (const name of NAMES) (globalThis as Record<string, unknown>)[name] = runInThisContext(name);
