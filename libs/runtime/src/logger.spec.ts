import { configureLogging, Logger, NestLogger, setLogContext, withLogFields } from './logger';

let lines: Array<Record<string, unknown>>;

function capture(level = 'debug'): void {
  lines = [];
  configureLogging({ level, destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } });
}

afterAll(() => {
  setLogContext(undefined);
  configureLogging();
});

describe('Logger on pino', () => {
  beforeEach(() => capture());

  it('writes one JSON object a line: level label, ISO time, component, message and fields', () => {
    new Logger('gateway').child('models').info('model loaded', { model: 'm', ms: 12 });
    expect(lines).toEqual([expect.objectContaining({ level: 'info', c: 'gateway.models', msg: 'model loaded', model: 'm', ms: 12 })]);
    expect(Object.keys(lines[0])).toEqual(['level', 'time', 'c', 'model', 'ms', 'msg']);
    expect(new Date(lines[0].time as string).toISOString()).toBe(lines[0].time);
  });

  it('keeps to the level threshold, and a logger of its own level', () => {
    capture('warn');
    const log = new Logger('x');
    log.debug('no');
    log.info('no');
    log.warn('yes');
    log.error('yes too');
    new Logger('loud', 'debug').debug('own level');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'yes'],
      ['error', 'yes too'],
      ['debug', 'own level'],
    ]);
  });

  it('reads an unknown LOG_LEVEL as info', () => {
    capture('loud');
    const log = new Logger('x');
    log.debug('no');
    log.info('yes');
    expect(lines.map((l) => l.msg)).toEqual(['yes']);
  });

  it('keeps an Error field readable: type, message and stack', () => {
    new Logger('x').error('failed', { err: new TypeError('boom'), error: 'plain text stays' });
    expect(lines[0]).toMatchObject({ err: { type: 'TypeError', message: 'boom', stack: expect.stringContaining('boom') }, error: 'plain text stays' });
  });

  it('adds the fields of withLogFields to every line inside it, across awaits, and not outside', async () => {
    const log = new Logger('worker');
    await withLogFields({ jobId: 'j1', requestId: 'r1', absent: undefined }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      log.info('inside');
      withLogFields({ step: 2 }, () => log.info('nested', { jobId: 'own' }));
    });
    log.info('outside');
    expect(lines[0]).toMatchObject({ jobId: 'j1', requestId: 'r1', msg: 'inside' });
    expect(lines[0]).not.toHaveProperty('absent');
    // A line's own field wins, once (no key twice in the JSON).
    expect(lines[1]).toMatchObject({ jobId: 'own', requestId: 'r1', step: 2 });
    expect(lines[2]).not.toHaveProperty('jobId');
  });

  it("adds the fields of the installed context hook (the gateway's request)", () => {
    let current: string | undefined = 'req-7';
    setLogContext(() => (current ? { requestId: current } : undefined));
    const log = new Logger('gateway');
    log.info('in a request');
    current = undefined;
    log.info('outside');
    setLogContext(undefined);
    expect(lines[0]).toMatchObject({ requestId: 'req-7' });
    expect(lines[1]).not.toHaveProperty('requestId');
  });

  it("rebuilds a Logger made before the root was replaced", () => {
    const early = new Logger('early');
    early.info('first');
    capture();
    early.info('second');
    expect(lines.map((l) => l.msg)).toEqual(['second']);
  });
});

describe('NestLogger', () => {
  beforeEach(() => capture('trace'));

  it("maps Nest's levels onto pino's, its context into the component and keeps an error's stack", () => {
    const nest = new NestLogger();
    nest.log('Mapped {/v1/models, GET} route', 'RouterExplorer');
    nest.verbose('very', 'X');
    nest.warn('careful');
    nest.error('handler failed', 'Error: x\n    at y (z.js:1:1)', 'ExceptionsHandler');
    nest.error(new Error('thrown'));
    nest.fatal({ msg: 'object message', extra: 1 }, 'Boot');
    expect(lines).toEqual([
      expect.objectContaining({ level: 'debug', c: 'nest.RouterExplorer', msg: 'Mapped {/v1/models, GET} route' }),
      expect.objectContaining({ level: 'trace', c: 'nest.X', msg: 'very' }),
      expect.objectContaining({ level: 'warn', c: 'nest', msg: 'careful' }),
      expect.objectContaining({ level: 'error', c: 'nest.ExceptionsHandler', msg: 'handler failed', stack: 'Error: x\n    at y (z.js:1:1)' }),
      expect.objectContaining({ level: 'error', c: 'nest', msg: 'thrown', err: expect.objectContaining({ message: 'thrown' }) }),
      expect.objectContaining({ level: 'fatal', c: 'nest.Boot', msg: 'object message', extra: 1 }),
    ]);
  });
});
