// The schedulers against diffusers' formulas: an independent float64 reference of the training
// schedule below, timestep lists derived by hand from diffusers' set_timesteps, single steps checked
// term by term, and full denoising loops on an oracle "model" that must land on the clean latents.
import { SeededRandom } from './random';
import { createScheduler, Scheduler, SCHEDULER_NAMES, SchedulerConfig, SchedulerName, schedulerNameOf } from './schedulers';

/** runwayml/stable-diffusion-v1-5's scheduler/scheduler_config.json. */
const SD15: SchedulerConfig = {
  _class_name: 'PNDMScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/** stabilityai/sd-turbo's. */
const TURBO: SchedulerConfig = {
  _class_name: 'EulerDiscreteScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  interpolation_type: 'linear',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  steps_offset: 1,
  timestep_spacing: 'trailing',
  trained_betas: null,
};

/** SimianLuo/LCM_Dreamshaper_v7's. */
const LCM: SchedulerConfig = {
  _class_name: 'LCMScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  clip_sample_range: 1.0,
  num_train_timesteps: 1000,
  original_inference_steps: 50,
  prediction_type: 'epsilon',
  rescale_betas_zero_snr: false,
  set_alpha_to_one: true,
  steps_offset: 1,
  timestep_scaling: 10.0,
  timestep_spacing: 'leading',
  trained_betas: null,
};

// ---- the reference: SD's training schedule, written out directly ----

/** alphas_cumprod of scaled_linear 0.00085..0.012 over 1000 steps: beta_t = (sqrt(b0) + t/999 (sqrt(b1) - sqrt(b0)))^2. */
const ACP: number[] = (() => {
  const out: number[] = [];
  let product = 1;
  for (let t = 0; t < 1000; t++) {
    const root = Math.sqrt(0.00085) + (t / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085));
    product *= 1 - root * root;
    out.push(product);
  }
  return out;
})();

/** k-diffusion's sigma at an integer timestep. */
function sigmaAt(t: number): number {
  return Math.sqrt((1 - ACP[t]!) / ACP[t]!);
}

/** np.interp of the sigmas at a fractional timestep, as Euler does. */
function sigmaInterp(t: number): number {
  const j = Math.min(Math.floor(t), 998);
  return sigmaAt(j) + (t - j) * (sigmaAt(j + 1) - sigmaAt(j));
}

/** The alpha product the UNet sees at timestep t (integer, or fractional through the sigma). */
function acpAt(t: number): number {
  if (Number.isInteger(t)) {
    return ACP[t]!;
  }
  const s = sigmaInterp(t);
  return 1 / (1 + s * s);
}

const f32 = (values: number[]): Float32Array => Float32Array.from(values);
const range = (n: number, f: (k: number) => number): number[] => Array.from({ length: n }, (_, k) => f(k));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    const scale = Math.max(1, Math.abs(expected[k]!));
    if (Math.abs(actual[k]! - expected[k]!) > tolerance * scale) {
      throw new Error(`element ${k}: ${actual[k]} is not within ${tolerance} of ${expected[k]}`);
    }
  }
}

// ---- names ----

describe('scheduler names', () => {
  it("maps diffusers' class names to ours", () => {
    expect(schedulerNameOf('EulerDiscreteScheduler')).toBe('euler');
    expect(schedulerNameOf('EulerAncestralDiscreteScheduler')).toBe('euler_a');
    expect(schedulerNameOf('DDIMScheduler')).toBe('ddim');
    expect(schedulerNameOf('PNDMScheduler')).toBe('pndm');
    expect(schedulerNameOf('LCMScheduler')).toBe('lcm');
    expect(schedulerNameOf('DPMSolverMultistepScheduler')).toBeUndefined();
    expect(schedulerNameOf('toString')).toBeUndefined();
    expect([...SCHEDULER_NAMES].sort()).toEqual(['ddim', 'euler', 'euler_a', 'lcm', 'pndm']);
  });
});

// ---- timesteps, from diffusers' set_timesteps ----

describe('timesteps', () => {
  it('PNDM/PLMS on SD 1.5 at 50 steps repeats its second timestep: 981, 961, 961, 941, ..., 1', () => {
    // leading: _timesteps = arange(50) * (1000 // 50) + steps_offset = [1, 21, ..., 981];
    // skip_prk_steps: plms = concat(_ts[:-1], _ts[-2:-1], _ts[-1:])[::-1].
    const s = createScheduler('pndm', SD15, 50);
    expect(s.timesteps.slice(0, 4)).toEqual([981, 961, 961, 941]);
    expect(s.timesteps.slice(-3)).toEqual([41, 21, 1]);
    expect(s.timesteps).toHaveLength(51);
    expect(s.initNoiseSigma).toBe(1);
  });

  it('DDIM on SD 1.5 at 50 steps: 981, 961, ..., 1', () => {
    const s = createScheduler('ddim', SD15, 50);
    expect(s.timesteps).toEqual(range(50, (k) => 981 - 20 * k));
  });

  it('trailing rounds halves to even as numpy does: DDIM at 16 steps', () => {
    // arange(1000, 0, -62.5) = 1000, 937.5, 875, 812.5, ...; np.round(812.5) = 812 (Math.round: 813); minus 1.
    const s = createScheduler('ddim', { ...SD15, timestep_spacing: 'trailing' }, 16);
    expect(s.timesteps).toEqual([999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61]);
  });

  it('linspace rounds halves to even for integer schedulers: DDIM at 7 steps', () => {
    // linspace(0, 999, 7) = 0, 166.5, 333, 499.5, 666, 832.5, 999 -> 0, 166, 333, 500, 666, 832, 999.
    const s = createScheduler('ddim', { ...SD15, timestep_spacing: 'linspace' }, 7);
    expect(s.timesteps).toEqual([999, 832, 666, 500, 333, 166, 0]);
  });

  it('SD-Turbo (Euler, trailing): one step at 999, its noise the schedule sigma unscaled', () => {
    // arange(1000, 0, -1000) = [1000], minus 1; init_noise_sigma = max sigma for trailing/linspace.
    const s = createScheduler('euler', TURBO, 1);
    expect(s.timesteps).toEqual([999]);
    expect(s.initNoiseSigma).toBeCloseTo(sigmaAt(999), 5);
    // The well-known SD sigma_max.
    expect(s.initNoiseSigma).toBeCloseTo(14.6146, 3);
    expect(createScheduler('euler', TURBO, 4).timesteps).toEqual([999, 749, 499, 249]);
  });

  it('Euler leading (SD 1.5 config) scales the initial noise by sqrt(sigma_max^2 + 1)', () => {
    const s = createScheduler('euler', { ...SD15, timestep_spacing: 'leading' }, 50);
    expect(s.timesteps[0]).toBe(981);
    expect(s.timesteps[49]).toBe(1);
    expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(sigmaAt(981) ** 2 + 1), 5);
  });

  it('Euler linspace keeps fractional timesteps (float32) and interpolates the sigmas at them', () => {
    // SD 1.5's config has no timestep_spacing, so Euler takes its default, linspace.
    const s = createScheduler('euler', SD15, 6);
    const expected = [999, 799.2, 599.4, 399.6, 199.8, 0].map((t) => Math.fround(t));
    expect(s.timesteps).toEqual(expected);
    const zeros = new Float32Array(1);
    const ones = f32([1]);
    // x + noise * sigma with x = 0, noise = 1 reads the sigma out.
    expect(s.addNoise(zeros, ones)[0]).toBeCloseTo(sigmaInterp(expected[0]!), 4);
    for (let i = 0; i < 5; i++) {
      expect(s.addNoiseAfter(zeros, ones, i)[0]).toBeCloseTo(sigmaInterp(expected[i + 1]!), 4);
    }
    expect(s.initNoiseSigma).toBeCloseTo(sigmaAt(999), 5);
  });

  it('Euler with Karras sigmas: rho = 7 between the end sigmas, timesteps mapped back through log sigma', () => {
    const steps = 10;
    const s = createScheduler('euler', { ...SD15, use_karras_sigmas: true }, steps);
    const max = sigmaAt(999);
    const min = sigmaAt(0);
    const karras = range(steps, (k) => (max ** (1 / 7) + (k / (steps - 1)) * (min ** (1 / 7) - max ** (1 / 7))) ** 7);
    const zeros = new Float32Array(1);
    const ones = f32([1]);
    expect(s.addNoise(zeros, ones)[0]).toBeCloseTo(karras[0]!, 4);
    for (let i = 0; i < steps - 1; i++) {
      expect(s.addNoiseAfter(zeros, ones, i)[0]! / karras[i + 1]!).toBeCloseTo(1, 5);
    }
    expect(s.timesteps[0]).toBeCloseTo(999, 3);
    expect(s.timesteps[steps - 1]).toBeCloseTo(0, 3);
    // Inside, the timestep is where log sigma interpolates to the Karras sigma.
    const t = s.timesteps[4]!;
    const j = Math.floor(t);
    const logSigma = Math.log(sigmaAt(j)) + (t - j) * (Math.log(sigmaAt(j + 1)) - Math.log(sigmaAt(j)));
    expect(logSigma).toBeCloseTo(Math.log(karras[4]!), 4);
  });

  it("LCM picks from its 50-step distillation schedule, ignoring spacing and steps_offset", () => {
    // origin = [19, 39, ..., 999] reversed; indices floor(linspace(0, 50, 4, endpoint=False)) = 0, 12, 25, 37.
    expect(createScheduler('lcm', LCM, 4).timesteps).toEqual([999, 759, 499, 259]);
    expect(createScheduler('lcm', LCM, 1).timesteps).toEqual([999]);
    expect(createScheduler('lcm', LCM, 8).timesteps).toEqual([999, 879, 759, 639, 499, 379, 259, 139]);
  });

  it('Euler ancestral leading on SD 1.5 at 30 steps: ratio 1000 // 30 = 33, plus steps_offset', () => {
    const s = createScheduler('euler_a', { ...SD15, timestep_spacing: 'leading' }, 30);
    expect(s.timesteps).toEqual(range(30, (k) => (29 - k) * 33 + 1));
  });
});

// ---- img2img strength ----

describe('strength', () => {
  it('drops the first timesteps as get_timesteps does', () => {
    // int(20 * 0.75) = 15 kept; t_start = 5.
    for (const name of ['euler', 'euler_a', 'ddim'] as const) {
      const full = createScheduler(name, SD15, 20).timesteps;
      const part = createScheduler(name, SD15, 20, 0.75).timesteps;
      expect(part).toEqual(full.slice(5));
    }
    // PNDM slices its PLMS list (21 entries) at t_start * order = 5.
    const plms = createScheduler('pndm', SD15, 20).timesteps;
    expect(createScheduler('pndm', SD15, 20, 0.75).timesteps).toEqual(plms.slice(5));
  });

  it('starts img2img at the first kept timestep', () => {
    const s = createScheduler('euler', TURBO, 4, 0.5);
    expect(s.timesteps).toEqual([499, 249]);
    expect(s.addNoise(new Float32Array(1), f32([1]))[0]).toBeCloseTo(sigmaAt(499), 5);
  });

  it('keeps at least one step when int(steps * strength) is 0', () => {
    const s = createScheduler('ddim', SD15, 20, 0.01);
    expect(s.timesteps).toEqual([1]);
  });

  it('LCM shortens its origin schedule instead (as its img2img pipeline passes strength to set_timesteps)', () => {
    // origin: int(50 * 0.5) = 25 timesteps [19, ..., 499]; floor(linspace(0, 25, 4, endpoint=False)) = 0, 6, 12, 18.
    expect(createScheduler('lcm', LCM, 4, 0.5).timesteps).toEqual([499, 379, 259, 139]);
  });
});

// ---- single steps against the formulas ----

describe('one step', () => {
  const x = f32([1, -0.5]);
  const e = f32([0.1, 0.2]);
  const unused = new SeededRandom(0);

  it('Euler: x0 = x - sigma*eps, x_next = x + eps*(sigma_next - sigma), input divided by sqrt(sigma^2 + 1)', () => {
    const s = createScheduler('euler', TURBO, 4);
    const sigma = sigmaAt(999);
    const next = sigmaAt(749);
    expectClose(s.scaleModelInput(x, 0), [1 / Math.sqrt(sigma * sigma + 1), -0.5 / Math.sqrt(sigma * sigma + 1)]);
    const r = s.step(e, 0, x, unused);
    expectClose(r.predOriginal, [1 - sigma * 0.1, -0.5 - sigma * 0.2]);
    expectClose(r.prevSample, [1 + 0.1 * (next - sigma), -0.5 + 0.2 * (next - sigma)]);
    // The last step goes to sigma = 0: the prediction itself.
    const last = s.step(e, 3, x, unused);
    expectClose(last.prevSample, last.predOriginal);
  });

  it('Euler with v-prediction: x0 = -sigma/sqrt(sigma^2+1) v + x/(sigma^2+1)', () => {
    const s = createScheduler('euler', { ...TURBO, prediction_type: 'v_prediction' }, 4);
    const sigma = sigmaAt(999);
    const r = s.step(e, 0, x, unused);
    const x0 = [0, 1].map((k) => (-sigma / Math.sqrt(sigma * sigma + 1)) * e[k]! + x[k]! / (sigma * sigma + 1));
    expectClose(r.predOriginal, x0);
  });

  it('Euler ancestral: down to sigma_down, then noise * sigma_up from the generator', () => {
    const s = createScheduler('euler_a', TURBO, 4);
    const sigma = sigmaAt(999);
    const next = sigmaAt(749);
    const up = Math.sqrt((next * next * (sigma * sigma - next * next)) / (sigma * sigma));
    const down = Math.sqrt(next * next - up * up);
    const noise = new SeededRandom(5).normals(2);
    const r = s.step(e, 0, x, new SeededRandom(5));
    expectClose(r.prevSample, [0, 1].map((k) => x[k]! + e[k]! * (down - sigma) + noise[k]! * up));
    // Ancestral steps keep the total variance: up^2 + down^2 = next^2.
    expect(up * up + down * down).toBeCloseTo(next * next, 10);
  });

  it('DDIM (eta = 0): steps back by 1000 // steps and ends on final_alpha_cumprod', () => {
    const s = createScheduler('ddim', SD15, 50);
    const a = ACP[981]!;
    const ap = ACP[961]!;
    const x0 = [0, 1].map((k) => (x[k]! - Math.sqrt(1 - a) * e[k]!) / Math.sqrt(a));
    const r = s.step(e, 0, x, unused);
    expectClose(r.predOriginal, x0);
    expectClose(r.prevSample, [0, 1].map((k) => Math.sqrt(ap) * x0[k]! + Math.sqrt(1 - ap) * e[k]!));
    // t = 1 steps to -19 < 0: set_alpha_to_one false means alphas_cumprod[0].
    const a1 = ACP[1]!;
    const last = s.step(e, 49, x, unused);
    const x0Last = [0, 1].map((k) => (x[k]! - Math.sqrt(1 - a1) * e[k]!) / Math.sqrt(a1));
    expectClose(last.prevSample, [0, 1].map((k) => Math.sqrt(ACP[0]!) * x0Last[k]! + Math.sqrt(1 - ACP[0]!) * e[k]!));
  });

  it("DDIM's default clip_sample clamps x0 to [-1, 1]", () => {
    const s = createScheduler('ddim', { ...SD15, clip_sample: undefined }, 50);
    const r = s.step(f32([0, 0]), 0, f32([5, -5]), unused);
    expect(Array.from(r.predOriginal)).toEqual([1, -1]);
  });

  it('PNDM: formula (9) with the PLMS combinations of the eps history', () => {
    const s = createScheduler('pndm', SD15, 50);
    /** diffusers' _get_prev_sample. */
    const prev = (sample: number, t: number, tPrev: number, eps: number): number => {
      const a = ACP[t]!;
      const ap = tPrev >= 0 ? ACP[tPrev]! : ACP[0]!;
      const denom = a * Math.sqrt(1 - ap) + Math.sqrt(a * (1 - a) * ap);
      return Math.sqrt(ap / a) * sample - ((ap - a) * eps) / denom;
    };
    const eps = [0.1, 0.3, -0.2, 0.05, 0.4];
    const samples = [1, 0.9, 0.8, 0.7, 0.6];
    const got = eps.map((v, i) => s.step(f32([v]), i, f32([samples[i]!]), unused).prevSample[0]!);
    // 0: plain step 981 -> 961. 1 (at the repeated 961): the same step again from the first sample, mean eps.
    // 2: 961 -> 941 with (3 e2 - e0)/2 (the history skips the mean). 3: (23 e3 - 16 e2 + 5 e0)/12. 4: 4th order.
    const expected = [
      prev(samples[0]!, 981, 961, eps[0]!),
      prev(samples[0]!, 981, 961, (eps[1]! + eps[0]!) / 2),
      prev(samples[2]!, 961, 941, (3 * eps[2]! - eps[0]!) / 2),
      prev(samples[3]!, 941, 921, (23 * eps[3]! - 16 * eps[2]! + 5 * eps[0]!) / 12),
      prev(samples[4]!, 921, 901, (55 * eps[4]! - 59 * eps[3]! + 37 * eps[2]! - 9 * eps[0]!) / 24),
    ];
    expectClose(got, expected);
  });

  it('PNDM is stateful and refuses steps out of order', () => {
    const s = createScheduler('pndm', SD15, 10);
    s.step(e, 0, x, unused);
    expect(() => s.step(e, 2, x, unused)).toThrow(/step 1 comes next/);
  });

  it("LCM: the boundary condition's c_skip, c_out, then noise to the next timestep", () => {
    const s = createScheduler('lcm', LCM, 4);
    const a = ACP[999]!;
    const ap = ACP[759]!;
    const scaledT = 999 * 10;
    const cSkip = 0.25 / (scaledT * scaledT + 0.25);
    const cOut = scaledT / Math.sqrt(scaledT * scaledT + 0.25);
    const x0 = [0, 1].map((k) => (x[k]! - Math.sqrt(1 - a) * e[k]!) / Math.sqrt(a));
    const denoised = [0, 1].map((k) => cOut * x0[k]! + cSkip * x[k]!);
    const noise = new SeededRandom(3).normals(2);
    const r = s.step(e, 0, x, new SeededRandom(3));
    expectClose(r.predOriginal, denoised);
    expectClose(r.prevSample, [0, 1].map((k) => Math.sqrt(ap) * denoised[k]! + Math.sqrt(1 - ap) * noise[k]!));
    // The last step returns the denoised latents, no noise.
    const last = s.step(e, 3, x, new SeededRandom(3));
    expectClose(last.prevSample, last.predOriginal);
  });

  it('does not mutate its inputs', () => {
    for (const name of SCHEDULER_NAMES) {
      const s = createScheduler(name, SD15, 10);
      const sample = f32([1, -0.5]);
      const output = f32([0.1, 0.2]);
      s.scaleModelInput(sample, 0);
      s.step(output, 0, sample, new SeededRandom(1));
      s.addNoise(sample, output);
      s.addNoiseAfter(sample, output, 0);
      expect(Array.from(sample)).toEqual([1, -0.5]);
      expect(Array.from(output)).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    }
  });
});

// ---- add_noise ----

describe('addNoise', () => {
  const x = f32([0.5, -1]);
  const n = f32([1, 2]);

  it('Euler: x + noise * sigma', () => {
    const s = createScheduler('euler', TURBO, 4);
    expectClose(s.addNoise(x, n), [0.5 + sigmaAt(999), -1 + 2 * sigmaAt(999)]);
    expectClose(s.addNoiseAfter(x, n, 1), [0.5 + sigmaAt(499), -1 + 2 * sigmaAt(499)]);
  });

  it('DDIM, PNDM, LCM: sqrt(acp) x + sqrt(1 - acp) noise', () => {
    const vp = (t: number): number[] => [0, 1].map((k) => Math.sqrt(ACP[t]!) * x[k]! + Math.sqrt(1 - ACP[t]!) * n[k]!);
    const ddim = createScheduler('ddim', SD15, 50, 0.5);
    expect(ddim.timesteps[0]).toBe(481);
    expectClose(ddim.addNoise(x, n), vp(481));
    expectClose(ddim.addNoiseAfter(x, n, 0), vp(461));
    expectClose(createScheduler('pndm', SD15, 50).addNoiseAfter(x, n, 0), vp(961));
    expectClose(createScheduler('lcm', LCM, 4).addNoise(x, n), vp(999));
    expectClose(createScheduler('lcm', LCM, 4).addNoiseAfter(x, n, 2), vp(259));
  });

  it('returns the clean latents after the last step', () => {
    for (const name of SCHEDULER_NAMES) {
      const s = createScheduler(name, SD15, 5);
      expect(Array.from(s.addNoiseAfter(x, n, s.timesteps.length - 1))).toEqual(Array.from(x));
    }
  });
});

// ---- whole loops ----

/**
 * Runs txt2img with an oracle for a known x0: at timestep t it returns the exact noise of its input
 * under x_t = sqrt(acp) x0 + sqrt(1 - acp) eps (or the exact v), which a perfect UNet would.
 */
function denoise(s: Scheduler, x0: Float32Array, seed: number, prediction: 'epsilon' | 'v_prediction' = 'epsilon') {
  const random = new SeededRandom(seed);
  const start = random.normals(x0.length);
  let x: Float32Array = Float32Array.from(start, (v) => v * s.initNoiseSigma);
  let lastPred: Float32Array = new Float32Array(0);
  for (let i = 0; i < s.timesteps.length; i++) {
    const input = s.scaleModelInput(x, i);
    const a = acpAt(s.timesteps[i]!);
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      const eps = (input[k]! - Math.sqrt(a) * x0[k]!) / Math.sqrt(1 - a);
      out[k] = prediction === 'epsilon' ? eps : Math.sqrt(a) * eps - Math.sqrt(1 - a) * x0[k]!;
    }
    const r = s.step(out, i, x, random);
    x = r.prevSample;
    lastPred = r.predOriginal;
  }
  return { result: x, lastPred };
}

describe('denoising loop with a perfect model', () => {
  const x0 = f32(range(64, (k) => 0.8 * Math.sin(k * 0.7)));

  it.each<[string, SchedulerName, SchedulerConfig, number]>([
    ['euler, SD-Turbo 1 step', 'euler', TURBO, 1],
    ['euler, SD-Turbo 4 steps', 'euler', TURBO, 4],
    ['euler, SD 1.5 default linspace 30 steps', 'euler', SD15, 30],
    ['euler, leading 25 steps', 'euler', { ...SD15, timestep_spacing: 'leading' }, 25],
    ['euler, Karras 20 steps', 'euler', { ...SD15, use_karras_sigmas: true }, 20],
    ['euler_a, 20 steps', 'euler_a', SD15, 20],
    ['ddim, set_alpha_to_one 50 steps', 'ddim', { ...SD15, set_alpha_to_one: true }, 50],
    ['ddim, trailing 8 steps', 'ddim', { ...SD15, set_alpha_to_one: true, timestep_spacing: 'trailing' }, 8],
    ['pndm, set_alpha_to_one 50 steps', 'pndm', { ...SD15, set_alpha_to_one: true }, 50],
    ['pndm, set_alpha_to_one 10 steps', 'pndm', { ...SD15, set_alpha_to_one: true }, 10],
    ['lcm, 4 steps', 'lcm', LCM, 4],
    ['lcm, 1 step', 'lcm', LCM, 1],
  ])('%s returns x0', (_label, name, config, steps) => {
    const { result } = denoise(createScheduler(name, config, steps), x0, 11);
    expectClose(result, x0, 1e-3);
  });

  it('v-prediction lands on x0 too (Euler, DDIM)', () => {
    const v: SchedulerConfig = { ...SD15, prediction_type: 'v_prediction', set_alpha_to_one: true };
    expectClose(denoise(createScheduler('euler', v, 20), x0, 4, 'v_prediction').result, x0, 1e-3);
    expectClose(denoise(createScheduler('ddim', v, 20), x0, 4, 'v_prediction').result, x0, 1e-3);
  });

  it.each<SchedulerName>(['ddim', 'pndm'])(
    'SD 1.5 (set_alpha_to_one false): %s ends one step short of x0, at alphas_cumprod[0], its estimate exact',
    (name) => {
      const { result, lastPred } = denoise(createScheduler(name, SD15, 50), x0, 2);
      expectClose(lastPred, x0, 1e-3);
      // The residual noise is sqrt(1 - acp[0]) = 0.029 of unit noise: small, not zero.
      let worst = 0;
      for (let k = 0; k < x0.length; k++) {
        worst = Math.max(worst, Math.abs(result[k]! - Math.sqrt(ACP[0]!) * x0[k]!));
      }
      expect(worst).toBeGreaterThan(1e-3);
      expect(worst).toBeLessThan(0.2);
    },
  );

  it('Euler ancestral is the same for the same seed and differs for another', () => {
    const s = (): Scheduler => createScheduler('euler_a', SD15, 10);
    const noisyModel = (seed: number): Float32Array => {
      const random = new SeededRandom(seed);
      const scheduler = s();
      let x: Float32Array = Float32Array.from(random.normals(16), (v) => v * scheduler.initNoiseSigma);
      for (let i = 0; i < scheduler.timesteps.length; i++) {
        // Not an oracle: a poor model leaves the ancestral noise visible in the result.
        const out = Float32Array.from(scheduler.scaleModelInput(x, i), (v) => 0.5 * v);
        x = scheduler.step(out, i, x, random).prevSample;
      }
      return x;
    };
    expect(Array.from(noisyModel(9))).toEqual(Array.from(noisyModel(9)));
    expect(Array.from(noisyModel(9))).not.toEqual(Array.from(noisyModel(10)));
  });
});

// ---- configs ----

describe('config', () => {
  it('takes each class its own defaults and ignores keys it does not take', () => {
    // DDIM's defaults: linear 0.0001..0.02, leading, no offset: 10 steps -> 900, 800, ..., 0.
    expect(createScheduler('ddim', {}, 10).timesteps).toEqual(range(10, (k) => 900 - 100 * k));
    // Euler ignores DDIM/PNDM keys (skip_prk_steps, clip_sample) as diffusers' from_config does.
    expect(() => createScheduler('euler', { ...SD15, thresholding: true }, 10)).not.toThrow();
  });

  it('throws a clear error for what it does not support', () => {
    expect(() => createScheduler('euler', { ...TURBO, interpolation_type: 'log_linear' }, 4)).toThrow(/interpolation_type/);
    expect(() => createScheduler('ddim', { ...SD15, prediction_type: 'foo' as 'epsilon' }, 4)).toThrow(/prediction_type="foo"/);
    expect(() => createScheduler('euler_a', { ...SD15, prediction_type: 'sample' }, 4)).toThrow(/prediction_type/);
    expect(() => createScheduler('pndm', { ...SD15, beta_schedule: 'cosine' as 'linear' }, 4)).toThrow(/beta_schedule/);
    expect(() => createScheduler('lcm', { ...LCM, thresholding: true }, 4)).toThrow(/thresholding/);
    expect(() => createScheduler('ddim', { ...SD15, timestep_spacing: 'bogus' as 'leading' }, 4)).toThrow(/timestep_spacing/);
    expect(() => createScheduler('euler', { ...SD15, steps_offset: '1' as unknown as number }, 4)).toThrow(/steps_offset/);
    expect(() => createScheduler('euler', { ...SD15, use_exponential_sigmas: true }, 4)).toThrow(/use_exponential_sigmas/);
    expect(() => createScheduler('lcm', LCM, 51)).toThrow(/original_inference_steps/);
    expect(() => createScheduler('euler', SD15, 0)).toThrow(/steps/);
    expect(() => createScheduler('euler', SD15, 10, 0)).toThrow(/strength/);
    expect(() => createScheduler('euler', SD15, 10, 1.5)).toThrow(/strength/);
  });
});
