/**
 * `paylinks run`: validate, submit, work and collect in one process.
 *
 * Every resource is opened in order and closed in reverse, on success, on
 * failure and on interruption. An interrupted run leaves its batch in Redis,
 * resumable: running the same file again picks it up where it stopped.
 */
import type { Batch } from './batch-store.js';
import { FINISHED_STATES } from './batch-store.js';
import { openBackend } from './backend.js';
import { CLEANUP_TIMEOUT_MS, Cleanups } from '../core/cleanups.js';
import { waitForBatch, writeBatchOutput } from './collector.js';
import { requireMail, type Config } from '../core/config.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { openMailQueue } from './mail-job.js';
import { firstMessagesSettled } from './mail-plan.js';
import type { IntakeOptions } from '../intake/invoice-file.js';
import { PaylinksError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { submitFile } from './producer.js';
import type { SimulatorOptions } from '../paywint/simulator/index.js';
import { openPaywintTarget } from './paywint-target.js';
import { shutdownBoundMs, startWorker } from './worker.js';
import type { CreateLinkEvents } from './create-link-job.js';
import type { Processors } from './processors.js';

/** How often `run` looks whether its batch has finished, ms. */
const FINISH_POLL_MS = 20;

export interface RunOptions extends IntakeOptions {
  file: string;
  /** Output path: a CSV, or an Excel workbook when it ends in `.xlsx`. Default: the input's, with `.out.csv`. */
  output?: string;
  config: Config;
  /** Start the Paywint simulator in-process and use it (its options, or true for defaults). */
  simulate?: boolean | SimulatorOptions;
  logger: Logger;
  /** The job processors (jobs/index.ts), handed in by the entry point. */
  processors: Processors;
  /** Called with the batch's counters while it runs. */
  onProgress?: (batch: Batch) => void;
  /** Called once the batch is known. */
  onBatch?: (info: { batchId: string; resumed: boolean; rows: number; valid: number }) => void;
  /** Abort to stop: no new rows start, rows in flight finish, the batch stays resumable. */
  signal?: AbortSignal;
  events?: CreateLinkEvents;
  /**
   * Send each customer their link once the batch finished (issue 19), and
   * wait for those messages before writing the output. Default false.
   */
  send?: boolean;
}

export interface RunResult {
  batchId: string;
  resumed: boolean;
  /** The batch as it ended (or as it stood when interrupted). */
  batch: Batch;
  /** Undefined when interrupted before the end. */
  outputFile: string | undefined;
  durationMs: number;
  interrupted: boolean;
}

/** The default output path: `invoices.csv` → `invoices.out.csv`. */
export function defaultOutputPath(input: string): string {
  return /\.(csv|tsv|txt|xlsx|xlsm)$/i.test(input) ? input.replace(/\.(csv|tsv|txt|xlsx|xlsm)$/i, '.out.csv') : `${input}.out.csv`;
}

export async function runFile(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const { config, logger } = options;
  const cleanups = new Cleanups(logger);

  try {
    if (options.send) requireMail(config.mail);
    // Credentials are checked (or the simulator started) before anything else.
    const paywint = await openPaywintTarget(config, options.simulate, logger);
    cleanups.add(() => paywint.close());
    const { credentials, baseUrl } = paywint;

    const backend = await openBackend({ config, logger, account: credentials.apiKey, name: 'paylinks-run' });
    cleanups.add(() => backend.close());
    const { endpoint, redis, queue, store } = backend;

    const startOurWorker = async () => {
      const worker = await startWorker({ redisUrl: endpoint.url, credentials, baseUrl, settings: config, logger, processors: options.processors, events: options.events, notify: config.notify, mail: config.mail });
      cleanups.add(() => worker.close(shutdownBoundMs(config)), shutdownBoundMs(config) + CLEANUP_TIMEOUT_MS);
      return worker;
    };
    let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
    // The worker starts once the file is checked whole (a file error sends nothing), and
    // works while the rows are still being queued.
    const submitted = await submitFile(options.file, {
      redis,
      store,
      queue,
      account: credentials.apiKey,
      logger,
      columns: options.columns,
      delimiter: options.delimiter,
      sheet: options.sheet,
      decimal: options.decimal,
      resume: true,
      send: options.send === true,
      onChecked: async () => {
        worker = await startOurWorker();
      },
    });
    options.onBatch?.(submitted);
    worker ??= await startOurWorker();

    let batch: Batch;
    try {
      // Read often (one small read each time), so the output is written as soon as the last row is in; progress as usual.
      batch = await waitForBatch(store, submitted.batchId, { signal: options.signal, onProgress: options.onProgress, pollMs: FINISH_POLL_MS, progressEveryMs: 200 });
    } catch (error) {
      if (!options.signal?.aborted) throw error;
      logger.warn({ batchId: submitted.batchId }, 'interrupted: finishing the rows in flight; run the same command again to resume');
      await worker.close(shutdownBoundMs(config));
      const now = await store.get(submitted.batchId);
      if (!now) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${submitted.batchId}`);
      return { batchId: submitted.batchId, resumed: submitted.resumed, batch: now, outputFile: undefined, durationMs: Date.now() - started, interrupted: true };
    }

    if (options.send) {
      const mailQueue = openMailQueue(redis, backend.keys);
      cleanups.add(() => mailQueue.close());
      const ctx = { redis, keys: backend.keys, store, queue: mailQueue };
      while (!(await firstMessagesSettled(ctx, submitted.batchId))) {
        if (options.signal?.aborted) break;
        await sleep(100);
      }
    }
    const outputFile = options.output ?? defaultOutputPath(options.file);
    await writeBatchOutput(store, submitted.batchId, outputFile);
    if (!FINISHED_STATES.includes(batch.state)) batch = (await store.get(submitted.batchId)) ?? batch;
    return { batchId: submitted.batchId, resumed: submitted.resumed, batch, outputFile, durationMs: Date.now() - started, interrupted: false };
  } finally {
    await cleanups.release();
  }
}
