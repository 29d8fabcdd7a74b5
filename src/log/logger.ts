import { pino, type Logger, type LevelWithSilent, type LoggerOptions as PinoOptions } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

export type { Logger } from 'pino';
export type LogFormat = 'json' | 'pretty';
export type LogLevel = Exclude<LevelWithSilent, 'silent'> | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where log lines go: stderr by default, so that stdout stays free for `once --dry-run`. */
  readonly fd?: number;
  /** A stream instead of a file descriptor (tests capture logs this way). */
  readonly stream?: NodeJS.WritableStream;
}

/**
 * A backstop behind Sealed: anything logged under these paths is censored even if a plain string slipped in.
 * Paths are pino's: one wildcard level, so both `{token}` and `{backend:{token}}` are covered.
 */
export const REDACT_PATHS: readonly string[] = [
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'value',
  '*.value',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  'req.headers.authorization',
  'clientSecret',
  '*.clientSecret',
  'secretId',
  '*.secretId',
  'secret_id',
  '*.secret_id',
  'privateKey',
  '*.privateKey',
  'private_key',
  '*.private_key',
];

export function createLogger(options: LoggerOptions): Logger {
  const fd = options.fd ?? 2;
  const base: PinoOptions = {
    level: options.level,
    base: { pid: process.pid },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (options.format === 'pretty') {
    // Loaded only when asked for: most deployments log JSON, and start-up time counts for `once`.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(base, pretty({ destination: options.stream ?? fd, sync: true, colorize: false, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(base, options.stream ?? pino.destination({ fd, sync: true }));
}

/** A logger that drops everything, for library use and unit tests that do not look at logs. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
