/** Flags shared by several commands, and how they layer over the configuration (see core/config.ts). */
import { InvalidArgumentError, type Command } from 'commander';
import { parseColumnsFlag, parseDecimalFlag, parseDelimiterFlag } from '../intake/columns.js';
import type { IntakeOptions } from '../intake/invoice-file.js';
import type { ConfigFlags } from '../core/config.js';

/** Commander's parsed options of one command. */
export type Opts = Record<string, unknown>;

export function number(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} expects a number, got "${value}"`);
    return n;
  };
}

export function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`expected a probability from 0 to 1, got "${value}"`);
  return n;
}

/** Flags that layer over the environment: Redis only, or everything a worker needs. */
export function withConfigFlags(cmd: Command, which: 'redis' | 'all'): Command {
  cmd.option('--redis-url <url>', 'Redis to use (REDIS_URL)').option('--prefix <prefix>', 'prefix of every Redis key (PAYLINKS_PREFIX)');
  if (which === 'all') {
    cmd
      .option('--base-url <url>', 'Paywint base URL (PAYWINT_BASE_URL)')
      .option('--rate-limit <perSecond>', 'requests per second to Paywint, all workers together (PAYLINKS_RATE_LIMIT)')
      .option('--concurrency <n>', 'jobs in flight per process (PAYLINKS_CONCURRENCY)')
      .option('--timeout-ms <ms>', 'per-request timeout (PAYLINKS_TIMEOUT_MS)')
      .option('--max-attempts <n>', 'requests per row before it fails (PAYLINKS_MAX_ATTEMPTS)')
      .option('--retry-window-ms <ms>', 'a row stops retrying this long after its first request (PAYLINKS_RETRY_WINDOW_MS)')
      .option('--lock-duration-ms <ms>', "a dead worker's rows are picked up after this long (PAYLINKS_LOCK_DURATION_MS)");
  }
  return cmd.option('--log-level <level>', 'log level (PAYLINKS_LOG_LEVEL)');
}

/** The configuration flags among a command's options (each is checked by the config schema). */
export function configFlags(opts: Opts): ConfigFlags {
  const pick = (k: string) => (typeof opts[k] === 'string' || typeof opts[k] === 'number' ? (opts[k] as string | number) : undefined);
  return {
    redisUrl: pick('redisUrl'),
    prefix: pick('prefix'),
    baseUrl: pick('baseUrl'),
    rateLimit: pick('rateLimit'),
    concurrency: pick('concurrency'),
    timeoutMs: pick('timeoutMs'),
    maxAttempts: pick('maxAttempts'),
    retryWindowMs: pick('retryWindowMs'),
    lockDurationMs: pick('lockDurationMs'),
    logLevel: pick('logLevel'),
    metricsPort: pick('metricsPort'),
    httpHost: pick('host'),
    httpPort: pick('port'),
    inbox: pick('inbox'),
  };
}

/** `--columns`, `--delimiter`, `--sheet` and `--decimal`, for the commands that read an invoice file. */
export function withInputFlags(cmd: Command): Command {
  return cmd
    .option('--columns <map>', 'name the columns: invoice=...,amount=...,description=...', parseColumnsFlag)
    .option('--delimiter <char>', 'field delimiter: , ; tab or |  (default: detected from the header)', parseDelimiterFlag)
    .option('--sheet <name|number>', 'the worksheet of an Excel workbook to read (default: the first)')
    .option('--decimal <mark>', "the file's decimal mark: point (1,234.56) or comma (1.234,56)  (default: decided by the file's amounts)", parseDecimalFlag);
}

/** The invoice-file options among a command's parsed options. */
export function intakeOptions(opts: Opts): IntakeOptions {
  return {
    columns: opts.columns as IntakeOptions['columns'],
    delimiter: opts.delimiter as string | undefined,
    sheet: opts.sheet as string | undefined,
    decimal: opts.decimal as IntakeOptions['decimal'],
  };
}
