/**
 * Structured logs for every process: one root pino logger per process (JSON lines, level from
 * LOG_LEVEL), the `Logger` wrapper the apps use (`new Logger('component')`, `.child()`,
 * debug/info/warn/error(msg, fields)), the fields every line inside a job or request carries
 * (`withLogFields`, `setLogContext`), Nest's own logger backed by the same pino (`NestLogger`), and
 * the last line of a process that cannot start (`exitWithFatal`).
 *
 * Lines are written synchronously (`pino.destination({ sync: true })`): an asynchronous
 * destination buffers lines in memory, and `process.exit` (a fatal start-up error, the shutdown
 * deadline, a second signal) drops whatever is still in that buffer, which is exactly the line
 * saying why the process went away. At this service's log volume a blocking write per line costs
 * nothing measurable. Debug and info lines go to stdout, warn and above to stderr, as before.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Level, type Logger as Pino } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** What LOG_LEVEL accepts (pino's levels); anything else means info. */
const LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function levelFrom(value: string | undefined): string {
  return value !== undefined && LEVELS.includes(value) ? value : 'info';
}

const fieldsStore = new AsyncLocalStorage<Readonly<Record<string, unknown>>>();
let contextHook: (() => Record<string, unknown> | undefined) | undefined;

/** The fields of the current job or request, fresh each call (pino merges the line's own fields into it). */
function contextFields(): Record<string, unknown> {
  const hooked = contextHook?.();
  const scoped = fieldsStore.getStore();
  return hooked || scoped ? { ...scoped, ...hooked } : {};
}

let root: Pino | undefined;
/** Bumped when the root is replaced, so Loggers made before rebuild their child. */
let generation = 0;

function createRoot(level: string, destination?: DestinationStream): Pino {
  const stream =
    destination ??
    pino.multistream(
      [
        { level: 'trace', stream: pino.destination({ dest: 1, sync: true }) },
        { level: 'warn', stream: pino.destination({ dest: 2, sync: true }) },
      ],
      { dedupe: true },
    );
  return pino(
    {
      level,
      // No pid or hostname on every line: call sites log a child's `pid` of their own, and `c` says
      // which app wrote the line (a collector adds the host).
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Labels, not numbers: `"level":"warn"` reads as it did before pino and greps as such.
      formatters: { level: (label) => ({ level: label }) },
      // An Error passed as a field keeps its type, message and stack (JSON.stringify would give {}).
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      mixin: contextFields,
    },
    stream,
  );
}

/** This process's root pino logger (created on first use, level from LOG_LEVEL). */
export function rootLogger(): Pino {
  root ??= createRoot(levelFrom(process.env.LOG_LEVEL));
  return root;
}

/** Replaces the root logger (tests capture lines through `destination`). */
export function configureLogging(o: { level?: string; destination?: DestinationStream } = {}): Pino {
  root = createRoot(levelFrom(o.level ?? process.env.LOG_LEVEL), o.destination);
  generation++;
  return root;
}

/**
 * Installs where the current request's fields come from (the gateway's request context, which this
 * lib cannot import): every line logged while it returns fields carries them.
 */
export function setLogContext(hook: (() => Record<string, unknown> | undefined) | undefined): void {
  contextHook = hook;
}

/** Runs `fn` with `fields` (undefined ones left out) on every line logged inside it, however deep. */
export function withLogFields<T>(fields: Record<string, unknown>, fn: () => T): T {
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  return fieldsStore.run({ ...fieldsStore.getStore(), ...defined }, fn);
}

export class Logger {
  private pino: Pino | undefined;
  private builtFor = -1;

  constructor(
    private readonly component: string,
    /** Overrides LOG_LEVEL for this logger alone. */
    private readonly level?: string,
  ) {}

  child(component: string): Logger {
    return new Logger(`${this.component}.${component}`, this.level);
  }
  trace(msg: string, fields?: Record<string, unknown>): void {
    this.write('trace', msg, fields);
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }
  fatal(msg: string, fields?: Record<string, unknown>): void {
    this.write('fatal', msg, fields);
  }
  isLevelEnabled(level: Level): boolean {
    return this.logger().isLevelEnabled(level);
  }

  private logger(): Pino {
    if (!this.pino || this.builtFor !== generation) {
      const level = this.level === undefined ? undefined : levelFrom(this.level);
      this.pino = rootLogger().child({ c: this.component }, level ? { level } : undefined);
      this.builtFor = generation;
    }
    return this.pino;
  }

  private write(level: Level, msg: string, fields?: Record<string, unknown>): void {
    const log = this.logger();
    if (fields) log[level](fields, msg);
    else log[level](msg);
  }
}

/** Nest's log levels on pino's: Nest's `log` is its start-up chatter (modules, routes), so debug. */
const NEST_LEVELS = { log: 'debug', verbose: 'trace', debug: 'debug', warn: 'warn', error: 'error', fatal: 'fatal' } as const satisfies Record<string, Level>;

/**
 * Nest's own logger (`NestFactory.create(..., { logger: new NestLogger() })`) on the process's
 * pino: its lines are JSON like every other, with `c: "nest.<context>"`.
 */
export class NestLogger implements LoggerService {
  private readonly loggers = new Map<string, Logger>();

  log(message: unknown, ...params: unknown[]): void {
    this.write('log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(nestLevel: keyof typeof NEST_LEVELS, message: unknown, params: unknown[]): void {
    // Nest passes its context (the class name) last, and error() a stack before it.
    const context = params.length > 0 && typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    const stack = params.find((p): p is string => typeof p === 'string' && /\n\s*at /.test(p));
    const name = context ? `nest.${context}` : 'nest';
    let log = this.loggers.get(name);
    if (!log) this.loggers.set(name, (log = new Logger(name)));
    const fields: Record<string, unknown> = {};
    let msg: string;
    if (message instanceof Error) {
      msg = message.message;
      fields.err = message;
    } else if (typeof message === 'object' && message !== null) {
      msg = 'msg' in message && typeof message.msg === 'string' ? message.msg : '';
      Object.assign(fields, message);
      delete fields.msg;
    } else {
      msg = String(message);
    }
    if (stack) fields.stack = stack;
    log[NEST_LEVELS[nestLevel]](msg, Object.keys(fields).length > 0 ? fields : undefined);
  }
}

/**
 * The last line of an app that cannot start, then exit(1). A `known` error (a bad variable, a bad
 * models file) is the user's to fix: its message alone; anything else keeps its stack in `err`.
 */
export function exitWithFatal(component: string, err: unknown, known: boolean): never {
  const log = new Logger(component);
  if (known) log.fatal((err as Error).message);
  else log.fatal(err instanceof Error ? err.message : String(err), { err });
  process.exit(1);
}
