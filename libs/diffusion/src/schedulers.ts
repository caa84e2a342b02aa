/**
 * Stable Diffusion's noise schedulers (Euler, Euler ancestral, DDIM, PNDM/PLMS, LCM) as Hugging Face
 * diffusers defines them, read from a model's scheduler/scheduler_config.json, so an exported SD 1.5,
 * SD-Turbo or LCM UNet denoises here as it does in diffusers. Schedules are computed in float64;
 * diffusers keeps its betas in float32, so values agree to float32 rounding, not bit for bit.
 */
import type { SeededRandom } from './random';

export type SchedulerName = 'euler' | 'euler_a' | 'ddim' | 'pndm' | 'lcm';

export const SCHEDULER_NAMES: readonly SchedulerName[] = ['euler', 'euler_a', 'ddim', 'pndm', 'lcm'];

const CLASS_NAMES: Readonly<Record<string, SchedulerName>> = {
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler_a',
  DDIMScheduler: 'ddim',
  PNDMScheduler: 'pndm',
  LCMScheduler: 'lcm',
};

/** diffusers' class names -> ours: EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, DDIMScheduler, PNDMScheduler, LCMScheduler. */
export function schedulerNameOf(className: string): SchedulerName | undefined {
  return Object.hasOwn(CLASS_NAMES, className) ? CLASS_NAMES[className] : undefined;
}

/** scheduler/scheduler_config.json as diffusers writes it (snake_case keys); absent keys take diffusers' defaults for that class. */
export interface SchedulerConfig {
  _class_name?: string;
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
  prediction_type?: 'epsilon' | 'v_prediction' | 'sample';
  timestep_spacing?: 'leading' | 'trailing' | 'linspace';
  steps_offset?: number;
  set_alpha_to_one?: boolean;
  clip_sample?: boolean;
  clip_sample_range?: number;
  skip_prk_steps?: boolean;
  original_inference_steps?: number;
  timestep_scaling?: number;
  interpolation_type?: string;
  use_karras_sigmas?: boolean;
  [key: string]: unknown;
}

export interface SchedulerStep {
  /** x_{t-1}: the next sample. */
  prevSample: Float32Array;
  /** The model's estimate of the clean latents x_0 (for preview images). */
  predOriginal: Float32Array;
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** The timesteps the model is called at, in order (after setTimesteps and, for img2img, `strength`). Numbers, possibly fractional for Euler (pass them to the UNet as given, the caller converts to the graph's dtype). */
  readonly timesteps: readonly number[];
  /** Multiply the initial noise by this (txt2img). */
  readonly initNoiseSigma: number;
  /** The model input at step i (Euler types divide by sqrt(sigma^2+1); others return the sample as is). */
  scaleModelInput(sample: Float32Array, i: number): Float32Array;
  /** One denoising step at step index i (0-based into `timesteps`). `random` is used only by stochastic schedulers (euler_a, lcm's noise between steps). Must not mutate inputs. */
  step(modelOutput: Float32Array, i: number, sample: Float32Array, random: SeededRandom): SchedulerStep;
  /** img2img: noise clean latents to the level of the first timestep (diffusers' add_noise at timesteps[0]). */
  addNoise(original: Float32Array, noise: Float32Array): Float32Array;
  /** inpainting blends: noise clean latents to the level *after* step i (the timestep of step i+1; at the last step return original unchanged). */
  addNoiseAfter(original: Float32Array, noise: Float32Array, i: number): Float32Array;
}

type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
type Spacing = 'leading' | 'trailing' | 'linspace';

// ---- reading a config ----

/** One class's view of a config: diffusers ignores keys a class doesn't take, so only the keys read are checked. */
class ConfigReader {
  constructor(
    private readonly config: SchedulerConfig,
    private readonly className: string,
  ) {}

  /** The value, or undefined when absent or null (diffusers writes `"trained_betas": null`). */
  private raw(key: string): unknown {
    const value = this.config[key];
    return value === null ? undefined : value;
  }

  number(key: string, fallback: number): number {
    const value = this.raw(key);
    if (value === undefined) {
      return fallback;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw this.error(key, value, 'a finite number');
    }
    return value;
  }

  optionalNumber(key: string): number | undefined {
    return this.raw(key) === undefined ? undefined : this.number(key, 0);
  }

  integer(key: string, fallback: number, min: number): number {
    const value = this.number(key, fallback);
    if (!Number.isInteger(value) || value < min) {
      throw this.error(key, value, `an integer >= ${min}`);
    }
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined) {
      return fallback;
    }
    if (typeof value !== 'boolean') {
      throw this.error(key, value, 'true or false');
    }
    return value;
  }

  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.raw(key);
    if (value === undefined) {
      return fallback;
    }
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw this.error(key, value, allowed.map((a) => `'${a}'`).join(', '));
    }
    return value as T;
  }

  /** Options diffusers has that we don't implement: present and not the default is an error, not a silent difference. */
  unsupported(key: string, defaultValue: unknown): void {
    const value = this.raw(key);
    if (value !== undefined && value !== defaultValue) {
      throw new Error(`${this.className}: ${key}=${JSON.stringify(value)} is not supported (only ${JSON.stringify(defaultValue)})`);
    }
  }

  trainedBetas(n: number): Float64Array | undefined {
    const value = this.raw('trained_betas');
    if (value === undefined) {
      return undefined;
    }
    if (!Array.isArray(value) || value.length !== n || !value.every((b) => typeof b === 'number' && b > 0 && b < 1)) {
      throw this.error('trained_betas', '[...]', `${n} numbers in (0, 1) (one per training timestep)`);
    }
    return Float64Array.from(value as number[]);
  }

  private error(key: string, value: unknown, expected: string): Error {
    return new Error(`${this.className}: unsupported ${key}=${JSON.stringify(value)} (expected ${expected})`);
  }
}

// ---- numpy's arithmetic, where the schedules depend on it ----

/** numpy's round: halves go to the even neighbour (np.round(812.5) is 812, Math.round's is 813). */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) {
    return floor;
  }
  if (diff > 0.5) {
    return floor + 1;
  }
  return floor % 2 === 0 ? floor : floor + 1;
}

/** np.arange(start, stop, step) for floats: numpy fills start + i*((start+step)-start), not start + i*step. */
function npArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const out: number[] = [];
  if (length === 0) {
    return out;
  }
  out.push(start);
  if (length > 1) {
    const second = start + step;
    out.push(second);
    const delta = second - start;
    for (let i = 2; i < length; i++) {
      out.push(start + i * delta);
    }
  }
  return out;
}

/** np.linspace(start, stop, num, endpoint). */
function linspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const out: number[] = [];
  for (let i = 0; i < num; i++) {
    out.push(i * step + start);
  }
  if (endpoint && num > 1) {
    out[num - 1] = stop;
  }
  return out;
}

/** np.interp(x, [0, 1, ..., n-1], fp). */
function interpIndex(x: number, fp: Float64Array): number {
  if (x <= 0) {
    return fp[0]!;
  }
  const last = fp.length - 1;
  if (x >= last) {
    return fp[last]!;
  }
  const j = Math.floor(x);
  return (fp[j + 1]! - fp[j]!) * (x - j) + fp[j]!;
}

// ---- the noise schedule ----

function betasForAlphaBarCosine(n: number): Float64Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const betas = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    betas[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  }
  return betas;
}

/** Lin et al., "Common Diffusion Noise Schedules and Sample Steps are Flawed", algorithm 1 (diffusers' rescale_zero_terminal_snr). */
function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const n = betas.length;
  const sqrtBar = new Float64Array(n);
  let acp = 1;
  for (let i = 0; i < n; i++) {
    acp *= 1 - betas[i]!;
    sqrtBar[i] = Math.sqrt(acp);
  }
  const first = sqrtBar[0]!;
  const last = sqrtBar[n - 1]!;
  const out = new Float64Array(n);
  let prevBar = 1;
  for (let i = 0; i < n; i++) {
    const bar = ((sqrtBar[i]! - last) * first) / (first - last);
    const alphaBar = bar * bar;
    out[i] = 1 - (i === 0 ? alphaBar : alphaBar / prevBar);
    prevBar = alphaBar;
  }
  return out;
}

interface BetaDefaults {
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
}

/** alphas_cumprod of the training schedule, index t = training timestep t. */
function alphasCumprod(read: ConfigReader, n: number, defaults: BetaDefaults, withZeroSnr: boolean): Float64Array {
  const betaStart = read.number('beta_start', defaults.betaStart);
  const betaEnd = read.number('beta_end', defaults.betaEnd);
  const schedule = read.oneOf('beta_schedule', defaults.betaSchedule, ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const);
  let betas = read.trainedBetas(n);
  if (betas === undefined) {
    switch (schedule) {
      case 'linear':
        betas = Float64Array.from(linspace(betaStart, betaEnd, n));
        break;
      case 'scaled_linear':
        // Latent diffusion's schedule: linear in sqrt(beta).
        betas = Float64Array.from(linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), n), (b) => b * b);
        break;
      case 'squaredcos_cap_v2':
        betas = betasForAlphaBarCosine(n);
        break;
    }
  }
  if (withZeroSnr && read.boolean('rescale_betas_zero_snr', false)) {
    betas = rescaleZeroTerminalSnr(betas);
  }
  const acp = new Float64Array(n);
  let product = 1;
  for (let i = 0; i < n; i++) {
    product *= 1 - betas[i]!;
    acp[i] = product;
  }
  return acp;
}

/** The descending timesteps of `timestep_spacing`, before any rounding to integers (Euler keeps linspace's fractions). */
function spacedTimesteps(spacing: Spacing, trainSteps: number, steps: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return linspace(0, trainSteps - 1, steps).reverse();
    case 'leading': {
      const ratio = Math.floor(trainSteps / steps);
      const out: number[] = [];
      for (let i = steps - 1; i >= 0; i--) {
        out.push(i * ratio + stepsOffset);
      }
      return out;
    }
    case 'trailing':
      return npArange(trainSteps, 0, -(trainSteps / steps)).map((t) => roundHalfEven(t) - 1);
  }
}

/** The first timestep img2img keeps: diffusers' get_timesteps (t_start * order, order being 1 for all of these). */
function startIndex(steps: number, strength: number): number {
  // Python's int() truncates; diffusers computes int(steps * strength) in double, as here.
  let initTimestep = Math.min(Math.trunc(steps * strength), steps);
  // diffusers would keep no timesteps at all (and return the input image untouched); one step at least.
  if (initTimestep < 1) {
    initTimestep = 1;
  }
  return Math.max(steps - initTimestep, 0);
}

// ---- elementwise helpers: float64 arithmetic, float32 out ----

function checkLength(name: string, a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) {
    throw new Error(`${name}: tensors differ in length (${a.length} vs ${b.length})`);
  }
}

function checkIndex(i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) {
    throw new RangeError(`step index ${i} is outside 0..${length - 1}`);
  }
}

function scaled(x: Float32Array, a: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) {
    out[k] = a * x[k]!;
  }
  return out;
}

/** a*x + b*y. */
function combine(a: number, x: Float32Array, b: number, y: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) {
    out[k] = a * x[k]! + b * y[k]!;
  }
  return out;
}

function clamp(x: Float32Array, range: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) {
    out[k] = Math.min(range, Math.max(-range, x[k]!));
  }
  return out;
}

/** x_0 and eps from the model output in the VP parametrisation x_t = sqrt(acp) x_0 + sqrt(1-acp) eps. */
function vpPredictions(
  prediction: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  alphaProd: number,
): { x0: Float32Array; eps: Float32Array } {
  const a = Math.sqrt(alphaProd);
  const b = Math.sqrt(1 - alphaProd);
  switch (prediction) {
    case 'epsilon':
      return { x0: combine(1 / a, sample, -b / a, modelOutput), eps: modelOutput };
    case 'sample':
      return { x0: modelOutput, eps: combine(1 / b, sample, -a / b, modelOutput) };
    case 'v_prediction':
      return { x0: combine(a, sample, -b, modelOutput), eps: combine(a, modelOutput, b, sample) };
  }
}

/** diffusers' add_noise for the alpha-based schedulers. */
function vpAddNoise(original: Float32Array, noise: Float32Array, alphaProd: number): Float32Array {
  checkLength('addNoise', original, noise);
  return combine(Math.sqrt(alphaProd), original, Math.sqrt(1 - alphaProd), noise);
}

// ---- Euler and Euler ancestral (k-diffusion) ----

class EulerScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;

  /**
   * @param sigmas one per timestep of the full schedule, then the final sigma.
   * @param start the index of timesteps[0] in the full schedule (diffusers' begin_index).
   */
  constructor(
    readonly name: 'euler' | 'euler_a',
    allTimesteps: readonly number[],
    private readonly sigmas: Float64Array,
    private readonly start: number,
    private readonly prediction: PredictionType,
    spacing: Spacing,
  ) {
    this.timesteps = allTimesteps.slice(start);
    const maxSigma = Math.max(...sigmas);
    // diffusers: the max sigma over the whole schedule, unscaled for linspace and trailing.
    this.initNoiseSigma = spacing === 'leading' ? Math.sqrt(maxSigma * maxSigma + 1) : maxSigma;
  }

  scaleModelInput(sample: Float32Array, i: number): Float32Array {
    checkIndex(i, this.timesteps.length);
    const sigma = this.sigmas[this.start + i]!;
    return scaled(sample, 1 / Math.sqrt(sigma * sigma + 1));
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array, random: SeededRandom): SchedulerStep {
    checkIndex(i, this.timesteps.length);
    checkLength('step', modelOutput, sample);
    const sigma = this.sigmas[this.start + i]!;
    const sigmaNext = this.sigmas[this.start + i + 1]!;
    let predOriginal: Float32Array;
    switch (this.prediction) {
      case 'epsilon':
        predOriginal = combine(1, sample, -sigma, modelOutput);
        break;
      case 'v_prediction':
        // x_0 = -sigma/sqrt(sigma^2+1) * v + x/(sigma^2+1), v being of the scaled input.
        predOriginal = combine(1 / (sigma * sigma + 1), sample, -sigma / Math.sqrt(sigma * sigma + 1), modelOutput);
        break;
      case 'sample':
        predOriginal = modelOutput.slice();
        break;
    }
    if (this.name === 'euler') {
      // s_churn = 0, so sigma_hat = sigma: x + (x - x_0)/sigma * (sigma_next - sigma).
      const c = (sigmaNext - sigma) / sigma;
      const prev = new Float32Array(sample.length);
      for (let k = 0; k < sample.length; k++) {
        prev[k] = sample[k]! + (sample[k]! - predOriginal[k]!) * c;
      }
      return { prevSample: prev, predOriginal };
    }
    // Ancestral: step deterministically down to sigma_down, then add fresh noise of sigma_up.
    const sigmaUp = Math.sqrt((sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext)) / (sigma * sigma));
    const sigmaDown = Math.sqrt(sigmaNext * sigmaNext - sigmaUp * sigmaUp);
    const c = (sigmaDown - sigma) / sigma;
    const prev = new Float32Array(sample.length);
    // The last step has sigma_up = 0: no noise, and none drawn.
    const noise = sigmaUp > 0 ? random.normals(sample.length) : undefined;
    for (let k = 0; k < sample.length; k++) {
      const deterministic = sample[k]! + (sample[k]! - predOriginal[k]!) * c;
      prev[k] = noise === undefined ? deterministic : deterministic + noise[k]! * sigmaUp;
    }
    return { prevSample: prev, predOriginal };
  }

  addNoise(original: Float32Array, noise: Float32Array): Float32Array {
    checkLength('addNoise', original, noise);
    return combine(1, original, this.sigmas[this.start]!, noise);
  }

  addNoiseAfter(original: Float32Array, noise: Float32Array, i: number): Float32Array {
    checkIndex(i, this.timesteps.length);
    checkLength('addNoiseAfter', original, noise);
    if (i === this.timesteps.length - 1) {
      return original.slice();
    }
    return combine(1, original, this.sigmas[this.start + i + 1]!, noise);
  }
}

/** k-diffusion's sigma -> (fractional) training timestep, by interpolating log sigma (diffusers' _sigma_to_t). */
function sigmaToT(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // The last index whose log sigma is <= this one (0 when none), kept below the end so there is a `high`.
  let low = 0;
  for (let j = 0; j < logSigmas.length; j++) {
    if (logSigma - logSigmas[j]! >= 0) {
      low = j;
    }
  }
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low]!;
  const hi = logSigmas[low + 1]!;
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * (low + 1);
}

function createEuler(name: 'euler' | 'euler_a', config: SchedulerConfig, steps: number, strength: number): Scheduler {
  const ancestral = name === 'euler_a';
  const read = new ConfigReader(config, ancestral ? 'EulerAncestralDiscreteScheduler' : 'EulerDiscreteScheduler');
  const n = read.integer('num_train_timesteps', 1000, 2);
  const defaults: BetaDefaults = { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' };
  const acp = alphasCumprod(read, n, defaults, true);
  if (read.boolean('rescale_betas_zero_snr', false)) {
    // diffusers' Euler schedulers: avoid an infinite sigma at the last timestep.
    acp[n - 1] = 2 ** -24;
  }
  const prediction: PredictionType = ancestral
    ? read.oneOf('prediction_type', 'epsilon', ['epsilon', 'v_prediction'] as const)
    : read.oneOf('prediction_type', 'epsilon', ['epsilon', 'v_prediction', 'sample'] as const);
  const spacing = read.oneOf<Spacing>('timestep_spacing', 'linspace', ['linspace', 'leading', 'trailing']);
  const stepsOffset = read.integer('steps_offset', 0, 0);

  const trainSigmas = Float64Array.from(acp, (a) => Math.sqrt((1 - a) / a));
  // diffusers casts the timesteps to float32 before interpolating the sigmas at them.
  let timesteps = spacedTimesteps(spacing, n, steps, stepsOffset).map((t) => Math.fround(t));
  let sigmas = timesteps.map((t) => interpIndex(t, trainSigmas));
  let finalSigma = 0;

  if (!ancestral) {
    // EulerAncestralDiscreteScheduler takes none of these options (diffusers drops them from its config).
    read.oneOf('interpolation_type', 'linear', ['linear'] as const);
    read.oneOf('timestep_type', 'discrete', ['discrete'] as const);
    read.unsupported('use_exponential_sigmas', false);
    read.unsupported('use_beta_sigmas', false);
    const finalType = read.oneOf('final_sigmas_type', 'zero', ['zero', 'sigma_min'] as const);
    if (read.boolean('use_karras_sigmas', false)) {
      // Karras et al. (2022) rho = 7 between the schedule's own end sigmas, unless the config names them.
      const rho = 7;
      const sigmaMin = read.optionalNumber('sigma_min') ?? sigmas[sigmas.length - 1]!;
      const sigmaMax = read.optionalNumber('sigma_max') ?? sigmas[0]!;
      const minInv = sigmaMin ** (1 / rho);
      const maxInv = sigmaMax ** (1 / rho);
      sigmas = linspace(0, 1, steps).map((ramp) => (maxInv + ramp * (minInv - maxInv)) ** rho);
      const logSigmas = trainSigmas.map((s) => Math.log(s));
      timesteps = sigmas.map((s) => Math.fround(sigmaToT(s, logSigmas)));
    }
    if (finalType === 'sigma_min') {
      finalSigma = trainSigmas[0]!;
    }
  }
  const allSigmas = Float64Array.from([...sigmas, finalSigma]);
  return new EulerScheduler(name, timesteps, allSigmas, startIndex(steps, strength), prediction, spacing);
}

// ---- DDIM ----

/**
 * What DDIM, PNDM and LCM share: the model input is the sample itself, and noising follows
 * alphas_cumprod at a timestep (x_t = sqrt(acp) x0 + sqrt(1 - acp) noise).
 */
abstract class AlphaScheduler implements Scheduler {
  abstract readonly name: SchedulerName;
  abstract readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;

  constructor(protected readonly acp: Float64Array) {}

  abstract step(modelOutput: Float32Array, i: number, sample: Float32Array, random: SeededRandom): SchedulerStep;

  scaleModelInput(sample: Float32Array, i: number): Float32Array {
    checkIndex(i, this.timesteps.length);
    return sample;
  }

  addNoise(original: Float32Array, noise: Float32Array): Float32Array {
    return vpAddNoise(original, noise, this.acp[this.timesteps[0]!]!);
  }

  addNoiseAfter(original: Float32Array, noise: Float32Array, i: number): Float32Array {
    checkIndex(i, this.timesteps.length);
    if (i === this.timesteps.length - 1) {
      return original.slice();
    }
    return vpAddNoise(original, noise, this.acp[this.timesteps[i + 1]!]!);
  }
}

class DdimScheduler extends AlphaScheduler {
  readonly name = 'ddim' as const;
  readonly timesteps: readonly number[];

  constructor(
    allTimesteps: readonly number[],
    start: number,
    acp: Float64Array,
    private readonly finalAlphaCumprod: number,
    /** diffusers steps back by N // steps, not to the next timestep in the list (they differ for trailing/linspace). */
    private readonly stride: number,
    private readonly prediction: PredictionType,
    private readonly clipRange: number | undefined,
  ) {
    super(acp);
    this.timesteps = allTimesteps.slice(start);
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array): SchedulerStep {
    checkIndex(i, this.timesteps.length);
    checkLength('step', modelOutput, sample);
    const t = this.timesteps[i]!;
    const prevT = t - this.stride;
    const alphaProd = this.acp[t]!;
    const alphaProdPrev = prevT >= 0 ? this.acp[prevT]! : this.finalAlphaCumprod;
    const predicted = vpPredictions(this.prediction, modelOutput, sample, alphaProd);
    const eps = predicted.eps;
    let x0 = predicted.x0;
    if (this.clipRange !== undefined) {
      x0 = clamp(x0, this.clipRange);
    }
    // eta = 0: no variance term, the deterministic DDIM update.
    const prev = combine(Math.sqrt(alphaProdPrev), x0, Math.sqrt(1 - alphaProdPrev), eps);
    return { prevSample: prev, predOriginal: x0 === modelOutput ? x0.slice() : x0 };
  }

}

/** DDIM and PNDM: the spacing rounded to integer training timesteps, as diffusers does for each. */
function integerTimesteps(spacing: Spacing, n: number, steps: number, stepsOffset: number): number[] {
  return spacedTimesteps(spacing, n, steps, stepsOffset).map((t) => (spacing === 'linspace' ? roundHalfEven(t) : t));
}

function checkTimestepRange(className: string, timesteps: readonly number[], n: number): void {
  for (const t of timesteps) {
    if (t < 0 || t >= n) {
      throw new Error(`${className}: timestep ${t} is outside the training schedule 0..${n - 1} (check steps_offset)`);
    }
  }
}

function createDdim(config: SchedulerConfig, steps: number, strength: number): Scheduler {
  const read = new ConfigReader(config, 'DDIMScheduler');
  const n = read.integer('num_train_timesteps', 1000, 2);
  if (steps > n) {
    throw new Error(`DDIMScheduler: ${steps} steps is more than num_train_timesteps (${n})`);
  }
  const acp = alphasCumprod(read, n, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' }, true);
  const setAlphaToOne = read.boolean('set_alpha_to_one', true);
  const clipSample = read.boolean('clip_sample', true);
  const clipRange = read.number('clip_sample_range', 1);
  read.unsupported('thresholding', false);
  const prediction = read.oneOf<PredictionType>('prediction_type', 'epsilon', ['epsilon', 'sample', 'v_prediction']);
  const spacing = read.oneOf<Spacing>('timestep_spacing', 'leading', ['leading', 'trailing', 'linspace']);
  const stepsOffset = read.integer('steps_offset', 0, 0);
  const timesteps = integerTimesteps(spacing, n, steps, stepsOffset);
  checkTimestepRange('DDIMScheduler', timesteps, n);
  return new DdimScheduler(
    timesteps,
    startIndex(steps, strength),
    acp,
    setAlphaToOne ? 1 : acp[0]!,
    Math.floor(n / steps),
    prediction,
    clipSample ? clipRange : undefined,
  );
}

// ---- PNDM (its PLMS half) ----

/**
 * Pseudo linear multistep: a 4th-order Adams-Bashforth in eps over the model outputs so far (`ets`).
 * Stateful like diffusers': step() must be called with i = 0, 1, 2, ... in order, once each; a new
 * generation needs a new scheduler.
 */
class PndmScheduler extends AlphaScheduler {
  readonly name = 'pndm' as const;
  readonly timesteps: readonly number[];
  private ets: Float32Array[] = [];
  private counter = 0;
  private curSample: Float32Array | undefined;

  constructor(
    allTimesteps: readonly number[],
    start: number,
    acp: Float64Array,
    private readonly finalAlphaCumprod: number,
    private readonly stride: number,
    private readonly prediction: 'epsilon' | 'v_prediction',
  ) {
    super(acp);
    this.timesteps = allTimesteps.slice(start);
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array): SchedulerStep {
    checkIndex(i, this.timesteps.length);
    checkLength('step', modelOutput, sample);
    if (i !== this.counter) {
      throw new Error(`PNDM keeps the history of its steps: step ${this.counter} comes next, not ${i}`);
    }
    const passed = this.timesteps[i]!;
    let timestep = passed;
    let prevTimestep = timestep - this.stride;
    const output = modelOutput.slice();
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(output);
    } else {
      // The schedule repeats its second timestep: this call re-does the first step from the same
      // sample, with the mean of the two outputs (a second-order start).
      prevTimestep = timestep;
      timestep = timestep + this.stride;
    }
    let eps: Float32Array;
    let from = sample;
    const ets = this.ets;
    const e = (back: number): Float32Array => ets[ets.length - back]!;
    if (ets.length === 1 && this.counter === 0) {
      eps = output;
      this.curSample = sample.slice();
    } else if (ets.length === 1 && this.counter === 1) {
      eps = combine(0.5, output, 0.5, e(1));
      from = this.curSample ?? sample;
      this.curSample = undefined;
    } else if (ets.length === 2) {
      eps = combine(1.5, e(1), -0.5, e(2));
    } else if (ets.length === 3) {
      eps = new Float32Array(output.length);
      for (let k = 0; k < eps.length; k++) {
        eps[k] = (23 * e(1)[k]! - 16 * e(2)[k]! + 5 * e(3)[k]!) / 12;
      }
    } else {
      eps = new Float32Array(output.length);
      for (let k = 0; k < eps.length; k++) {
        eps[k] = (55 * e(1)[k]! - 59 * e(2)[k]! + 37 * e(3)[k]! - 9 * e(4)[k]!) / 24;
      }
    }
    const prevSample = this.prevSample(from, timestep, prevTimestep, eps);
    this.counter++;
    // Not part of PLMS: x_0 from this call's own output at its own timestep, for previews.
    const predOriginal = vpPredictions(this.prediction, modelOutput, sample, this.acp[passed]!).x0;
    return { prevSample, predOriginal };
  }

  /** diffusers' _get_prev_sample: formula (9) of the PNDM paper. */
  private prevSample(sample: Float32Array, timestep: number, prevTimestep: number, modelOutput: Float32Array): Float32Array {
    const alphaProd = this.acp[timestep]!;
    const alphaProdPrev = prevTimestep >= 0 ? this.acp[prevTimestep]! : this.finalAlphaCumprod;
    const betaProd = 1 - alphaProd;
    const betaProdPrev = 1 - alphaProdPrev;
    const eps =
      this.prediction === 'v_prediction' ? combine(Math.sqrt(alphaProd), modelOutput, Math.sqrt(betaProd), sample) : modelOutput;
    const sampleCoeff = Math.sqrt(alphaProdPrev / alphaProd);
    const denom = alphaProd * Math.sqrt(betaProdPrev) + Math.sqrt(alphaProd * betaProd * alphaProdPrev);
    return combine(sampleCoeff, sample, -(alphaProdPrev - alphaProd) / denom, eps);
  }

}

function createPndm(config: SchedulerConfig, steps: number, strength: number): Scheduler {
  const read = new ConfigReader(config, 'PNDMScheduler');
  const n = read.integer('num_train_timesteps', 1000, 2);
  const acp = alphasCumprod(read, n, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' }, false);
  // skip_prk_steps=false (diffusers' default when the key is absent; every SD config sets true) means
  // Runge-Kutta warm-up steps at half-stride timesteps first. We don't implement those: such a
  // config runs the PLMS schedule below, so its timesteps and first steps differ from diffusers'.
  read.boolean('skip_prk_steps', false);
  const setAlphaToOne = read.boolean('set_alpha_to_one', false);
  const prediction = read.oneOf('prediction_type', 'epsilon', ['epsilon', 'v_prediction'] as const);
  const spacing = read.oneOf<Spacing>('timestep_spacing', 'leading', ['linspace', 'leading', 'trailing']);
  const stepsOffset = read.integer('steps_offset', 0, 0);
  // Ascending, as diffusers' _timesteps.
  const ascending = integerTimesteps(spacing, n, steps, stepsOffset).reverse();
  checkTimestepRange('PNDMScheduler', ascending, n);
  // PLMS repeats the run's second timestep (its second-order start), so `steps` steps make
  // steps + 1 model calls: 981, 961, 961, 941, ... for SD 1.5 at 50 steps.
  const plms = [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)].reverse();
  return new PndmScheduler(plms, startIndex(steps, strength), acp, setAlphaToOne ? 1 : acp[0]!, Math.floor(n / steps), prediction);
}

// ---- LCM ----

class LcmScheduler extends AlphaScheduler {
  readonly name = 'lcm' as const;

  constructor(
    readonly timesteps: readonly number[],
    acp: Float64Array,
    private readonly finalAlphaCumprod: number,
    private readonly prediction: PredictionType,
    private readonly clipRange: number | undefined,
    private readonly timestepScaling: number,
  ) {
    super(acp);
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array, random: SeededRandom): SchedulerStep {
    checkIndex(i, this.timesteps.length);
    checkLength('step', modelOutput, sample);
    const t = this.timesteps[i]!;
    const last = i === this.timesteps.length - 1;
    const prevT = last ? t : this.timesteps[i + 1]!;
    const alphaProd = this.acp[t]!;
    const alphaProdPrev = prevT >= 0 ? this.acp[prevT]! : this.finalAlphaCumprod;
    // Consistency-model boundary condition (sigma_data = 0.5): denoised -> x_0 as t grows, = x_t at t = 0.
    const sigmaData = 0.5;
    const scaledT = t * this.timestepScaling;
    const cSkip = (sigmaData * sigmaData) / (scaledT * scaledT + sigmaData * sigmaData);
    const cOut = scaledT / Math.sqrt(scaledT * scaledT + sigmaData * sigmaData);
    let { x0 } = vpPredictions(this.prediction, modelOutput, sample, alphaProd);
    if (this.clipRange !== undefined) {
      x0 = clamp(x0, this.clipRange);
    }
    const denoised = combine(cOut, x0, cSkip, sample);
    if (last) {
      return { prevSample: denoised, predOriginal: denoised.slice() };
    }
    // Multistep consistency sampling: re-noise the estimate to the next timestep with fresh noise.
    const noise = random.normals(sample.length);
    const prev = combine(Math.sqrt(alphaProdPrev), denoised, Math.sqrt(1 - alphaProdPrev), noise);
    return { prevSample: prev, predOriginal: denoised };
  }

}

function createLcm(config: SchedulerConfig, steps: number, strength: number): Scheduler {
  const read = new ConfigReader(config, 'LCMScheduler');
  const n = read.integer('num_train_timesteps', 1000, 2);
  const acp = alphasCumprod(read, n, { betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' }, true);
  const originalSteps = read.integer('original_inference_steps', 50, 1);
  const clipSample = read.boolean('clip_sample', false);
  const clipRange = read.number('clip_sample_range', 1);
  const setAlphaToOne = read.boolean('set_alpha_to_one', true);
  read.unsupported('thresholding', false);
  const prediction = read.oneOf<PredictionType>('prediction_type', 'epsilon', ['epsilon', 'sample', 'v_prediction']);
  const timestepScaling = read.number('timestep_scaling', 10);
  // LCM's schedule ignores timestep_spacing and steps_offset: it picks from the distillation's own
  // skipping schedule (k-1, 2k-1, ..., the original_inference_steps timesteps the model was trained on).
  if (originalSteps > n) {
    throw new Error(`LCMScheduler: original_inference_steps ${originalSteps} is more than num_train_timesteps (${n})`);
  }
  if (steps > originalSteps) {
    throw new Error(`LCMScheduler: ${steps} steps is more than original_inference_steps (${originalSteps})`);
  }
  const k = Math.floor(n / originalSteps);
  // img2img: diffusers' LCM takes strength in set_timesteps, shortening the origin schedule (not get_timesteps).
  // Where diffusers raises (fewer origin timesteps than steps), keep at least one and at most that many steps.
  const originCount = Math.max(1, Math.trunc(originalSteps * strength));
  const origin: number[] = [];
  for (let j = originCount; j >= 1; j--) {
    origin.push(j * k - 1);
  }
  const count = Math.min(steps, originCount);
  const timesteps = linspace(0, origin.length, count, false).map((x) => origin[Math.floor(x)]!);
  return new LcmScheduler(timesteps, acp, setAlphaToOne ? 1 : acp[0]!, prediction, clipSample ? clipRange : undefined, timestepScaling);
}

/**
 * steps: inference steps asked for. strength (0<s<=1, default 1) as diffusers' img2img get_timesteps:
 * init_timestep = min(int(steps*strength), steps); t_start = max(steps - init_timestep, 0); keep timesteps[t_start*order:]
 * (order: 1 for these; for PNDM the PLMS list). With strength<1 at least one step remains. LCM takes
 * strength as diffusers' LCM pipelines do, in its schedule (see createLcm).
 * Throws an Error with a clear message for an unsupported config value.
 */
export function createScheduler(name: SchedulerName, config: SchedulerConfig, steps: number, strength = 1): Scheduler {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`steps must be a positive integer, got ${steps}`);
  }
  if (!(strength > 0 && strength <= 1)) {
    throw new Error(`strength must be in (0, 1], got ${strength}`);
  }
  switch (name) {
    case 'euler':
    case 'euler_a':
      return createEuler(name, config, steps, strength);
    case 'ddim':
      return createDdim(config, steps, strength);
    case 'pndm':
      return createPndm(config, steps, strength);
    case 'lcm':
      return createLcm(config, steps, strength);
  }
}
