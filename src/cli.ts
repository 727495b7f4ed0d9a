/**
 * The `paylinks` command line. Thin by design: parse flags, resolve the
 * configuration, call one library function, map its result to an exit code.
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, type ConfigFlags } from './config.js';
import { coerceError, InputFileError } from './errors.js';
import { EXIT, exitCodeForError } from './exit-codes.js';
import { parseColumnsFlag, parseDelimiterFlag } from './columns.js';
import { formatReport, reportToJson, validateFile } from './validate.js';
import { startSimulator, type SimulatorOptions } from './simulator.js';
import { createLogger } from './logger.js';
import { createProgress, formatSummary } from './progress.js';
import { runFile } from './run.js';

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

/** Flags every command that talks to Redis or Paywint accepts. */
function withConfigFlags(cmd: Command): Command {
  return cmd
    .option('--redis-url <url>', 'Redis to use (REDIS_URL)')
    .option('--prefix <prefix>', 'prefix of every Redis key (PAYLINKS_PREFIX)')
    .option('--base-url <url>', 'Paywint base URL (PAYWINT_BASE_URL)')
    .option('--rate-limit <perSecond>', 'requests per second to Paywint, all workers together (PAYLINKS_RATE_LIMIT)')
    .option('--concurrency <n>', 'jobs in flight per process (PAYLINKS_CONCURRENCY)')
    .option('--timeout-ms <ms>', 'per-request timeout (PAYLINKS_TIMEOUT_MS)')
    .option('--max-attempts <n>', 'HTTP attempts per row (PAYLINKS_MAX_ATTEMPTS)')
    .option('--log-level <level>', 'log level (PAYLINKS_LOG_LEVEL)');
}

function configFlags(opts: Record<string, unknown>): ConfigFlags {
  const pick = (k: string) => (typeof opts[k] === 'string' || typeof opts[k] === 'number' ? (opts[k] as string | number) : undefined);
  return {
    redisUrl: pick('redisUrl'),
    prefix: pick('prefix'),
    baseUrl: pick('baseUrl'),
    rateLimit: pick('rateLimit'),
    concurrency: pick('concurrency'),
    timeoutMs: pick('timeoutMs'),
    maxAttempts: pick('maxAttempts'),
    logLevel: pick('logLevel'),
    metricsPort: pick('metricsPort'),
  };
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('paylinks')
    .description('Turn CSV files of invoices into Paywint payment links.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('validate')
    .description('Check an invoice file without sending anything. Needs neither Redis nor credentials.')
    .argument('<file>', 'CSV file of invoices')
    .option('--json', 'print one JSON object instead of a summary')
    .option('--columns <map>', 'name the columns: invoice=...,amount=...,description=...', parseColumnsFlag)
    .option('--delimiter <char>', 'field delimiter: , ; tab or |  (default: detected from the header)', parseDelimiterFlag)
    .addHelpText('after', '\nExit codes: 0 every row valid, 1 some rows invalid, 2 file error.')
    .action(async (file: string, opts: { json?: boolean; columns?: ReturnType<typeof parseColumnsFlag>; delimiter?: string }) => {
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
    .action(async (opts: Record<string, number | string | undefined>) => {
      try {
        const config = loadConfig({ flags: {} });
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
        const logger = createLogger({ level: config.logLevel });
        const sim = await startSimulator(options);
        logger.info({ url: sim.url, apiKey: sim.apiKey }, 'Paywint simulator listening');
        await out(`Paywint simulator on ${sim.url}\n  PAYWINT_BASE_URL=${sim.url}\n  PAYWINT_API_KEY=${sim.apiKey}\nLedger: ${sim.url}/__simulator/ledger   (Ctrl-C to stop)`);
        await waitForSignal();
        await sim.close();
        setExit(EXIT.OK);
      } catch (error) {
        setExit(fail(error));
      }
    });


  withConfigFlags(
    program
      .command('run')
      .description('Validate, submit, work and collect one file in this process; write the output CSV.')
      .argument('<file>', 'CSV file of invoices')
      .option('-o, --output <file>', 'output CSV (default: the input with .out.csv)')
      .option('--simulate', 'start the Paywint simulator in this process and use it (no credentials needed)')
      .option('--columns <map>', 'name the columns: invoice=...,amount=...,description=...', parseColumnsFlag)
      .option('--delimiter <char>', 'field delimiter: , ; tab or |  (default: detected)', parseDelimiterFlag),
  )
    .addHelpText('after', '\nExit codes: 0 every row created or exists, 1 some rows not, 2 fatal error, 130/143 interrupted (run again to resume).')
    .action(async (file: string, opts: Record<string, unknown>) => {
      const controller = new AbortController();
      let signal: NodeJS.Signals | undefined;
      const onSignal = (sig: NodeJS.Signals) => {
        if (signal) return;
        signal = sig;
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let progress: ReturnType<typeof createProgress> | undefined;
      try {
        const config = loadConfig({ flags: configFlags(opts) });
        const logger = createLogger({ level: config.logLevel });
        progress = createProgress({ logger });
        const result = await runFile({
          file,
          output: opts.output as string | undefined,
          columns: opts.columns as ReturnType<typeof parseColumnsFlag> | undefined,
          delimiter: opts.delimiter as string | undefined,
          config,
          simulate: opts.simulate === true,
          logger,
          signal: controller.signal,
          onBatch: (b) => logger.info({ batchId: b.batchId, rows: b.rows, valid: b.valid }, b.resumed ? 'resuming unfinished batch' : 'batch submitted'),
          onProgress: (b) => progress?.update(b),
        });
        progress.stop();
        await out(formatSummary(result.batch, { durationMs: result.durationMs, outputFile: result.outputFile }));
        if (result.interrupted) {
          setExit(signal === 'SIGTERM' ? EXIT.SIGTERM : EXIT.SIGINT);
        } else if (result.batch.state === 'failed') {
          setExit(EXIT.FATAL);
        } else {
          setExit(result.batch.state === 'completed' ? EXIT.OK : EXIT.ROWS_FAILED);
        }
      } catch (error) {
        progress?.stop();
        setExit(fail(error));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  return program;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
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
