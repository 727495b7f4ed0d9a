/**
 * The `paylinks` command line. Thin by design: parse flags, resolve the
 * configuration, call one library function, map its result to an exit code.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { openBackend, type Backend } from '../pipeline/backend.js';
import { cancelBatch } from '../pipeline/cancel.js';
import { isFinished, waitForBatch, writeBatchOutput } from '../pipeline/collector.js';
import { parseColumnsFlag, parseDelimiterFlag, type ColumnOverrides } from '../intake/columns.js';
import { loadConfig, type Config, type ConfigFlags } from '../core/config.js';
import { coerceError, InputFileError, PaylinksError } from '../core/errors.js';
import { EXIT, exitCodeForBatch, exitCodeForError } from './exit-codes.js';
import { createLogger, type Logger } from '../core/logger.js';
import { submitFile } from '../pipeline/producer.js';
import { createProgress, formatSummary } from './progress.js';
import { retryFailedRows } from '../pipeline/retry-rows.js';
import { runFile } from '../pipeline/run.js';
import { runWorkerService } from '../pipeline/worker-service.js';
import { startSimulator, type SimulatorOptions } from '../paywint/simulator/simulator.js';
import { describeProgress, formatBatchList, formatStatus, getBatchStatus, listRecentBatches, statusToJson } from '../pipeline/status.js';
import { formatReport, reportToJson, validateFile } from '../intake/validate.js';
import { exportLedger, formatImportReport, importLedger, importReportToJson, parseIsoInstant } from '../pipeline/ledger-records.js';

/** Writes to stdout and resolves once the text is flushed (so piping never truncates). */
function out(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`, () => resolve()));
}

function fail(error: unknown): number {
  const err = coerceError(error);
  process.stderr.write(`paylinks: ${err.message} [${err.code}]\n`);
  return exitCodeForError(err);
}

function number(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} expects a number, got "${value}"`);
    return n;
  };
}

function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`expected a probability from 0 to 1, got "${value}"`);
  return n;
}

/** SIGINT/SIGTERM as an AbortSignal, and which one came. */
function interruption() {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const on = (sig: NodeJS.Signals) => {
    if (received) return;
    received = sig;
    controller.abort();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: controller.signal,
    stopped: new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true })),
    exitCode: () => (received === 'SIGTERM' ? EXIT.SIGTERM : EXIT.SIGINT),
    dispose: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

type Opts = Record<string, unknown>;

/** Flags that layer over the environment (see config.ts). */
function withConfigFlags(cmd: Command, which: 'redis' | 'all'): Command {
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

function configFlags(opts: Opts): ConfigFlags {
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
  };
}

function withInputFlags(cmd: Command): Command {
  return cmd
    .option('--columns <map>', 'name the columns: invoice=...,amount=...,description=...', parseColumnsFlag)
    .option('--delimiter <char>', 'field delimiter: , ; tab or |  (default: detected from the header)', parseDelimiterFlag);
}

/** Loads the configuration, then runs `body`; every error becomes a message and an exit code. */
function action<A extends unknown[]>(
  setExit: (code: number) => void,
  body: (ctx: { config: Config; logger: Logger; opts: Opts }, ...args: A) => Promise<number>,
  /** Whether the command's flags layer over the configuration (not for `simulate`, whose flags are the server's). */
  { flagsAreConfig = true } = {},
) {
  return async (...args: [...A, Opts, Command]) => {
    const opts = args[args.length - 2] as Opts;
    try {
      const config = loadConfig({ flags: flagsAreConfig ? configFlags(opts) : {} });
      const logger = createLogger({ level: config.logLevel });
      setExit(await body({ config, logger, opts }, ...(args.slice(0, -2) as A)));
    } catch (error) {
      setExit(fail(error));
    }
  };
}

async function withBackend<T>(config: Config, logger: Logger, fn: (backend: Backend) => Promise<T>): Promise<T> {
  const backend = await openBackend({ config, logger });
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

function requireAccount(config: Config): string {
  if (!config.apiKey) throw new PaylinksError('CONFIG_MISSING', 'PAYWINT_API_KEY: expected a UUID (your Paywint API key), got nothing: the batch and its idempotency ledger belong to that account');
  return config.apiKey;
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('paylinks')
    .description('Turn CSV files of invoices into Paywint payment links.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  withInputFlags(program.command('validate'))
    .description('Check an invoice file without sending anything. Needs neither Redis nor credentials.')
    .argument('<file>', 'CSV file of invoices')
    .option('--json', 'print one JSON object instead of a summary')
    .addHelpText('after', '\nExit codes: 0 every row valid, 1 some rows invalid, 2 file error.')
    .action(async (file: string, opts: { json?: boolean; columns?: ColumnOverrides; delimiter?: string }) => {
      try {
        const report = await validateFile(file, { columns: opts.columns, delimiter: opts.delimiter });
        await out(opts.json ? JSON.stringify(reportToJson(report)) : formatReport(report));
        setExit(report.invalid === 0 ? EXIT.OK : EXIT.ROWS_FAILED);
      } catch (error) {
        const err = coerceError(error);
        if (opts.json && err instanceof InputFileError) {
          await out(JSON.stringify({ error: { code: err.code, message: err.message, line: err.line ?? null } }));
        }
        setExit(fail(err));
      }
    });

  withConfigFlags(withInputFlags(program.command('run')), 'all')
    .description('Validate, submit, work and collect one file in this process; write the output CSV.')
    .argument('<file>', 'CSV file of invoices')
    .option('-o, --output <file>', 'output CSV (default: the input with .out.csv)')
    .option('--simulate', 'start the Paywint simulator in this process and use it (no credentials needed)')
    .addHelpText('after', '\nExit codes: 0 every row created or exists, 1 some rows not, 2 fatal error, 130/143 interrupted (run it again to resume).')
    .action(
      action(setExit, async ({ config, logger, opts }, file: string) => {
        const stop = interruption();
        const progress = createProgress({ logger });
        try {
          const result = await runFile({
            file,
            output: opts.output as string | undefined,
            columns: opts.columns as ColumnOverrides | undefined,
            delimiter: opts.delimiter as string | undefined,
            config,
            simulate: opts.simulate === true,
            logger,
            signal: stop.signal,
            onBatch: (b) => logger.info({ batchId: b.batchId, rows: b.rows, valid: b.valid }, b.resumed ? 'resuming the unfinished batch of this file' : 'batch submitted'),
            onProgress: (b) => progress.update(b),
          });
          progress.stop();
          await out(formatSummary(result.batch, { durationMs: result.durationMs, outputFile: result.outputFile }));
          return result.interrupted ? stop.exitCode() : exitCodeForBatch(result.batch.state);
        } finally {
          progress.stop();
          stop.dispose();
        }
      }),
    );

  withConfigFlags(withInputFlags(program.command('submit')), 'redis')
    .description('Validate a file, create its batch and queue its rows for the workers; print the batch id and exit.')
    .argument('<file>', 'CSV file of invoices')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nNeeds PAYWINT_API_KEY (the account the batch runs under), not the secret.\nExit codes: 0 submitted, every row valid; 1 submitted, some rows invalid; 2 nothing submitted.')
    .action(
      action(setExit, async ({ config, logger, opts }, file: string) => {
        const account = requireAccount(config);
        const result = await withBackend(config, logger, (b) =>
          submitFile(file, { redis: b.redis, store: b.store, queue: b.queue, account, logger, columns: opts.columns as ColumnOverrides | undefined, delimiter: opts.delimiter as string | undefined }),
        );
        await out(
          opts.json
            ? JSON.stringify({ batch_id: result.batchId, rows: result.rows, valid: result.valid, invalid: result.invalid })
            : `${result.batchId}\n(${result.rows} rows: ${result.valid} queued, ${result.invalid} invalid or duplicate)`,
        );
        return result.invalid === 0 ? EXIT.OK : EXIT.ROWS_FAILED;
      }),
    );

  withConfigFlags(program.command('worker'), 'all')
    .description('Run a worker until SIGINT/SIGTERM: creates the links of every queued batch; serves /healthz and /metrics.')
    .option('--metrics-port <port>', 'port of /healthz and /metrics (PAYLINKS_METRICS_PORT, default 9464; 0: any)')
    .option('--metrics-host <host>', 'address of /healthz and /metrics', '127.0.0.1')
    .addHelpText('after', '\nOn SIGTERM it stops taking rows, finishes those in flight (bounded by the timeout) and exits 143 (130 on SIGINT).')
    .action(
      action(setExit, async ({ config, logger, opts }) => {
        const stop = interruption();
        try {
          await runWorkerService({ config, logger, stop: stop.stopped, metricsHost: opts.metricsHost as string });
          return stop.exitCode();
        } finally {
          stop.dispose();
        }
      }),
    );

  withConfigFlags(program.command('status'), 'redis')
    .description('Where a batch stands (counts by status, rate, ETA); with no batch, the recent batches.')
    .argument('[batch]', 'batch id')
    .option('--json', 'print JSON')
    .option('--watch', 'refresh every 2 seconds until the batch finishes')
    .action(
      action(setExit, async ({ config, logger, opts }, batchId: string | undefined) =>
        withBackend(config, logger, async ({ store }) => {
          if (!batchId) {
            const batches = await listRecentBatches(store);
            await out(opts.json ? JSON.stringify(batches.map((b) => statusToJson(describeProgress(b)))) : formatBatchList(batches));
            return EXIT.OK;
          }
          const stop = interruption();
          try {
            for (;;) {
              const status = await getBatchStatus(store, batchId);
              const text = opts.json ? JSON.stringify(statusToJson(status)) : formatStatus(status);
              await out(opts.watch && process.stdout.isTTY ? `\x1b[2J\x1b[H${text}` : text);
              if (!opts.watch || isFinished(status.batch) || stop.signal.aborted) return EXIT.OK;
              await sleep(2000, undefined, { signal: stop.signal }).catch(() => undefined);
            }
          } finally {
            stop.dispose();
          }
        }),
      ),
    );

  withConfigFlags(program.command('collect'), 'redis')
    .description("Write a batch's output CSV, from any machine that reaches Redis.")
    .argument('<batch>', 'batch id')
    .option('-o, --output <file>', 'output CSV (default: <input name>.out.csv here)')
    .option('--wait', 'wait for the batch to finish first')
    .addHelpText('after', '\nExit codes: 0 every row created or exists, 1 some rows not, 2 fatal (or the batch is not finished and --wait was not given).')
    .action(
      action(setExit, async ({ config, logger, opts }, batchId: string) =>
        withBackend(config, logger, async ({ store }) => {
          const stop = interruption();
          try {
            let { batch } = await getBatchStatus(store, batchId);
            if (!isFinished(batch)) {
              if (!opts.wait) {
                throw new PaylinksError('NOT_FINISHED', `batch ${batchId} is ${batch.state} (${batch.done}/${batch.rows} rows done): wait for it with --wait, or see \`paylinks status ${batchId}\``);
              }
              batch = await waitForBatch(store, batchId, { signal: stop.signal, pollMs: 500 });
            }
            const output = (opts.output as string | undefined) ?? `${path.parse(batch.file).name}.out.csv`;
            await writeBatchOutput(store, batchId, output);
            await out(formatSummary(batch, { durationMs: (Date.parse(batch.finishedAt ?? batch.createdAt) - Date.parse(batch.createdAt)) || 0, outputFile: output }));
            return exitCodeForBatch(batch.state);
          } catch (error) {
            if (stop.signal.aborted) return stop.exitCode();
            throw error;
          } finally {
            stop.dispose();
          }
        }),
      ),
    );

  withConfigFlags(program.command('retry'), 'redis')
    .description('Queue the failed rows of a batch again (the ledger still guards against duplicates).')
    .argument('<batch>', 'batch id')
    .action(
      action(setExit, async ({ config, logger }, batchId: string) =>
        withBackend(config, logger, async ({ store, queue }) => {
          const result = await retryFailedRows(store, queue, batchId);
          await out(`${result.requeued} failed row(s) of batch ${batchId} queued again`);
          return EXIT.OK;
        }),
      ),
    );

  withConfigFlags(program.command('cancel'), 'redis')
    .description('Stop the remaining rows of a batch; keep what was created. Its output can still be collected.')
    .argument('<batch>', 'batch id')
    .action(
      action(setExit, async ({ config, logger }, batchId: string) =>
        withBackend(config, logger, async ({ store, queue }) => {
          const result = await cancelBatch(store, queue, batchId);
          await out(result.state === 'cancelled' ? `batch ${batchId} cancelled: ${result.cancelledRows} row(s) taken out of the queue` : `batch ${batchId} is already ${result.state}: nothing to cancel`);
          return EXIT.OK;
        }),
      ),
    );

  const ledger = program.command('ledger').description("The idempotency ledger as a record: export it, import links made elsewhere (the account's: PAYWINT_API_KEY).");
  withConfigFlags(ledger.command('export'), 'redis')
    .description('Write the ledger as CSV (invoice_number, amount, description, payment_id, payment_link, created_at, batch), to stdout or -o FILE.')
    .option('--since <date>', 'only entries created at or after this ISO 8601 date or time', (v: string) => {
      const ms = parseIsoInstant(v);
      if (ms === undefined) throw new InvalidArgumentError(`expected an ISO 8601 date or time such as 2026-11-01 or 2026-11-01T09:30:00Z, got "${v}"`);
      return new Date(ms);
    })
    .option('-o, --output <file>', 'write to this file (default: stdout)')
    .action(
      action(setExit, async ({ config, logger, opts }) =>
        withBackend(config, logger, async ({ redis, keys }) => {
          const file = opts.output as string | undefined;
          const result = await exportLedger({ redis, keys, account: requireAccount(config), output: file ?? process.stdout, since: opts.since as Date | undefined });
          if (file) await out(`${result.entries} of ${result.scanned} ledger entries written to ${file}`);
          return EXIT.OK;
        }),
      ),
    );
  withConfigFlags(ledger.command('import'), 'redis')
    .description('Load links made before paylinks (or by another tool): their invoices are then reported `exists`, never linked twice.')
    .argument('<file>', 'CSV with invoice_number, amount, description, payment_id, payment_link[, created_at, batch]')
    .option('--delimiter <char>', 'field delimiter (default: detected from the header)', parseDelimiterFlag)
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExit codes: 0 imported, 1 some rows bad or conflicting (nothing imported), 2 fatal.')
    .action(
      action(setExit, async ({ config, logger, opts }, file: string) => {
        const report = await withBackend(config, logger, ({ redis, keys }) => importLedger({ redis, keys, account: requireAccount(config), file, delimiter: opts.delimiter as string | undefined }));
        await out(opts.json ? JSON.stringify(importReportToJson(report)) : formatImportReport(report));
        return report.problems.length === 0 ? EXIT.OK : EXIT.ROWS_FAILED;
      }),
    );

  program
    .command('simulate')
    .description('Run the Paywint simulator: a local server that behaves as the documented endpoint, with fault injection.')
    .option('--port <port>', 'port to listen on (0: any free port)', number('--port'), 4010)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--api-key <uuid>', 'API key the simulator accepts (default: PAYWINT_API_KEY, else a fixed demo key)')
    .option('--latency-ms <ms>', 'fixed latency per request', number('--latency-ms'), 0)
    .option('--jitter-ms <ms>', 'random extra latency, 0 to this', number('--jitter-ms'), 0)
    .option('--error-rate <p>', 'probability of a 500 or 503', probability, 0)
    .option('--rate-limited-rate <p>', 'probability of a 429 with Retry-After', probability, 0)
    .option('--retry-after <seconds>', 'Retry-After of injected 429s', number('--retry-after'), 1)
    .option('--hang-rate <p>', 'probability of creating the link, then never answering', probability, 0)
    .option('--drop-rate <p>', 'probability of creating the link, then cutting the connection', probability, 0)
    .option('--rate-limit <perSecond>', 'server-side limit, answered with 429 (0: none)', number('--rate-limit'), 0)
    .addHelpText('after', '\nThe secret it accepts is PAYWINT_API_SECRET (else a fixed demo secret); it is never printed.\nLedger of created links: GET /__simulator/ledger')
    .action(
      action(setExit, async ({ config, logger, opts }) => {
        const options: SimulatorOptions = {
          port: opts.port as number,
          host: opts.host as string,
          apiKey: (opts.apiKey as string | undefined) ?? config.apiKey,
          apiSecret: config.apiSecret,
          latencyMs: opts.latencyMs as number,
          jitterMs: opts.jitterMs as number,
          errorRate: opts.errorRate as number,
          rateLimitedRate: opts.rateLimitedRate as number,
          retryAfterSeconds: opts.retryAfter as number,
          hangRate: opts.hangRate as number,
          dropRate: opts.dropRate as number,
          rateLimitPerSecond: opts.rateLimit as number,
        };
        const stop = interruption();
        try {
          const sim = await startSimulator(options);
          logger.info({ url: sim.url, apiKey: sim.apiKey }, 'Paywint simulator listening');
          await out(`Paywint simulator on ${sim.url}\n  PAYWINT_BASE_URL=${sim.url}\n  PAYWINT_API_KEY=${sim.apiKey}\nLedger: ${sim.url}/__simulator/ledger   (Ctrl-C to stop)`);
          await stop.stopped;
          await sim.close();
          return EXIT.OK;
        } finally {
          stop.dispose();
        }
      }, { flagsAreConfig: false }),
    );

  return program;
}

/** Runs the CLI and resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    // commander throws on --help/--version (exit 0) and on usage errors (already printed).
    const e = error as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
    if (typeof e.exitCode === 'number') return EXIT.USAGE;
    return fail(error);
  }
  return code;
}
