/**
 * Logging: pino JSON on stderr, pretty when stderr is a terminal (written
 * in-process through the shared terminal, so log lines and the progress bar
 * do not run into each other).
 *
 * The API secret is never passed to the logger; as a second guard, any field
 * named like a secret or an auth header is censored.
 */
import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { stderrTerminal, type Terminal } from './terminal.js';

export type { Logger };

export interface LoggerOptions {
  /** Default `info`. */
  level?: string;
  /** Pretty-print for a person. Default: when stderr is a terminal. */
  pretty?: boolean;
  /** Where pretty lines go. Default: stderr's shared terminal. */
  terminal?: Terminal;
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
    const terminal = options.terminal ?? stderrTerminal;
    const prettify = prettyFactory({ colorize: terminal === stderrTerminal && process.stderr.isTTY === true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss' });
    return pino(base, { write: (line: string) => terminal.write(prettify(line)) });
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything, for library callers and tests that want silence. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
