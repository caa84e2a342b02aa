/**
 * One-line structured logs (JSON) shared by every app, with a level threshold from LOG_LEVEL.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export class Logger {
  private readonly threshold: number;
  constructor(
    private readonly component: string,
    level: string = process.env.LOG_LEVEL ?? 'info',
  ) {
    this.threshold = ORDER[(level as LogLevel) in ORDER ? (level as LogLevel) : 'info'];
  }
  child(component: string): Logger {
    return new Logger(`${this.component}.${component}`);
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
  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < this.threshold) return;
    const line = JSON.stringify({ t: new Date().toISOString(), level, c: this.component, msg, ...fields });
    (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');
  }
}
