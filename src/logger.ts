/**
 * Logging: pino JSON on stderr, pretty when stderr is a terminal.
 *
 * The API secret is never passed to the logger; as a second guard, any field
 * named like a secret or an auth header is censored.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** Default `info`. */
  level?: string;
  /** Pretty-print for a person. Default: when stderr is a terminal. */
  pretty?: boolean;
}

const REDACT_PATHS = [
  'apiSecret',
  'secret',
  '*.apiSecret',
  '*.secret',
  'headers["x-api-secret"]',
  '*.headers["x-api-secret"]',
  'config.apiSecret',
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  const base = { level: options.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '[secret]' }, base: { pid: process.pid } };
  if (pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss' } },
    });
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything, for library callers and tests that want silence. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
