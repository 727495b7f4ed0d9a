/**
 * paylinks as a library: the same functions the `paylinks` commands call, for
 * a program that embeds it. Every command of the CLI is one call here.
 *
 * This is an entry point: the functions that start workers get the job
 * processors (jobs/) here unless the caller hands in its own.
 */
import { PROCESSORS } from '../jobs/index.js';
import type { Processors } from './pipeline/processors.js';
import { runFile as runFileWith, type RunOptions, type RunResult } from './pipeline/run.js';
import { startWorker as startWorkerWith, type WorkerOptions, type WorkerHandle } from './pipeline/worker.js';
import { runWorkerService as runWorkerServiceWith, type WorkerServiceOptions } from './pipeline/worker-service.js';
import { startNotifier as startNotifierWith, type NotifierOptions, type NotifierHandle } from './pipeline/notifier.js';

/** Options whose `processors` may be left out (then paylinks' own are used). */
type DefaultProcessors<T extends { processors: Processors }> = Omit<T, 'processors'> & { processors?: Processors };


/** Loads the configuration: defaults < `.env` < environment < flags; throws a `ConfigError` naming a bad variable. */
export { loadConfig, requireCredentials, type Config, type ConfigFlags, type LoadConfigOptions } from './core/config.js';
/** Typed errors with stable codes (`code`), and `coerceError` for anything caught. */
export { PaylinksError, ConfigError, InputFileError, PaywintError, RedisUnavailableError, coerceError, type ErrorCode } from './core/errors.js';
/** A pino logger as paylinks uses it (JSON, or pretty on a terminal); `silentLogger` for none. */
export { createLogger, silentLogger, type Logger } from './core/logger.js';

/** How to read an invoice file (columns, delimiter, worksheet, decimal mark): the options `validateFile`, `submitFile` and `runFile` take. */
export { openInvoiceFile, type IntakeOptions, type InvoiceFile, type IntakeRecord, type DecimalMark } from './intake/invoice-file.js';
/** `paylinks validate`: checks every row of a file; sends nothing, needs no Redis. */
export { validateFile, reportToJson, type ValidateOptions, type ValidationReport } from './intake/validate.js';

/** Opens Redis (found or started), the batch store and the queue: what `submitFile`, `getBatchStatus`, `collectBatch`, `cancelBatch` and `retryFailedRows` take. */
export { openBackend, type Backend, type OpenBackendOptions } from './pipeline/backend.js';
/** `paylinks submit`: validates a file, stores its batch and queues its rows. */
export { submitFile, type SubmitOptions, type SubmitResult } from './pipeline/producer.js';
/** `paylinks run`: validate, submit, work and collect one file in this process. */
export function runFile(options: DefaultProcessors<RunOptions>): Promise<RunResult> {
  return runFileWith({ ...options, processors: options.processors ?? PROCESSORS });
}
export type { RunOptions, RunResult };
/** Starts a worker in this process (the engine of `paylinks worker`); `close()` finishes the rows in flight. */
export function startWorker(options: DefaultProcessors<WorkerOptions>): Promise<WorkerHandle> {
  return startWorkerWith({ ...options, processors: options.processors ?? PROCESSORS });
}
export type { WorkerOptions, WorkerHandle };
/** `paylinks worker`: a worker with `/healthz` and `/metrics`, until `stop` resolves. */
export function runWorkerService(options: DefaultProcessors<WorkerServiceOptions>): Promise<void> {
  return runWorkerServiceWith({ ...options, processors: options.processors ?? PROCESSORS });
}
export type { WorkerServiceOptions };
/** The job processors the functions above hand to their workers by default. */
export { PROCESSORS };
export type { Processors } from './pipeline/processors.js';
/** `paylinks status`: one batch's counts, rate and ETA, or the recent batches. */
export { getBatchStatus, listRecentBatches, describeProgress, statusToJson, type BatchStatus } from './pipeline/status.js';
/** `paylinks collect`: writes a batch's output CSV; `waitForBatch` waits for it to finish. */
export { collectBatch, writeBatchOutput, waitForBatch, isFinished, type CollectOptions } from './pipeline/collector.js';
/** `paylinks cancel`: stops the remaining rows of a batch; keeps what was created. */
export { cancelBatch, type CancelResult } from './pipeline/cancel.js';
/** `paylinks retry`: queues the failed rows of a batch again. */
export { retryFailedRows, type RetryResult } from './pipeline/retry-rows.js';
/** Held batches (`submitFile` with `hold`): queue one, or discard it. */
export { releaseBatch, discardBatch, type ReleaseResult } from './pipeline/hold.js';
/** A batch's row errors, a page at a time. */
export { readRowErrors, type RowErrorsPage, type RowErrorsPageOptions } from './pipeline/row-errors.js';
/** `paylinks serve`: the HTTP API, the web page and the workers; `plugins` adds more Fastify plugins. */
export { startServer, type ServeOptions, type ServerHandle, type ServePlugin } from './serve/server.js';
export type { ServeContext } from './serve/context.js';

/** The Paywint client: one request per call, typed outcomes. */
export { PaywintClient, type PaywintClientOptions, type CreateLinkRequest, type CreatedLink, type ReadOptions } from './paywint/client.js';
export type { PaywintPayment, ReceivedPaymentsPage, RowsPerPage } from './paywint/payments.js';
/** `paylinks simulate`: the Paywint simulator, with fault injection. */
export { startSimulator, type SimulatorOptions, type SimulatorHandle } from './paywint/simulator/index.js';

/** The drop folder: files dropped into `inbox/` become batches, outputs come back in `out/`; `close()` stops it. */
export { startInbox, type InboxOptions, type InboxHandle, type InboxSubmitted } from './inbox/inbox.js';
/** `paylinks inbox`: the drop folder and the workers in one process, until `stop` resolves. */
export { runInboxService, type InboxServiceOptions } from './inbox/inbox-service.js';
/** Notifications of finished batches (started by `startWorker` when configured); the webhook signature, for receivers. */
export function startNotifier(options: Omit<NotifierOptions, 'processor'> & { processor?: NotifierOptions['processor'] }): Promise<NotifierHandle> {
  return startNotifierWith({ ...options, processor: options.processor ?? PROCESSORS.notify });
}
export type { NotifierOptions, NotifierHandle };
export { signatureHeader, verifySignature, type VerifyOptions } from './notify/signature.js';
