import { DecodeGate } from './decode-gate';

describe('DecodeGate', () => {
  it('is open unless an erase is running, and opens when the last one ends', async () => {
    const gate = new DecodeGate();
    expect(gate.pass()).toBeUndefined();
    let releaseFirst!: () => void;
    const first = gate.exclusive(() => new Promise<void>((r) => (releaseFirst = r)));
    const second = gate.exclusive(async () => 'done');
    const waiting = gate.pass();
    expect(waiting).toBeDefined();
    let passed = false;
    void waiting!.then(() => (passed = true));
    expect(await second).toBe('done');
    await Promise.resolve();
    expect(passed).toBe(false); // the first erase still runs
    releaseFirst();
    await first;
    await waiting;
    expect(passed).toBe(true);
    expect(gate.pass()).toBeUndefined();
  });

  it('opens again when the erase fails', async () => {
    const gate = new DecodeGate();
    await expect(gate.exclusive(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(gate.pass()).toBeUndefined();
  });
});
