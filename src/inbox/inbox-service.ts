/**
 * `paylinks inbox DIR`: the drop folder and the workers in one long-running
 * process (what `paylinks serve --inbox DIR` adds to the HTTP server).
 * Opens Redis, starts the workers (and the notifications, when configured),
 * then the drop folder; closes them in reverse order when `stop` resolves.
 */
import { CLEANUP_TIMEOUT_MS, Cleanups } from '../core/cleanups.js';
import { openBackend } from '../pipeline/backend.js';
import { requireCredentials, type Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { shutdownBoundMs, startWorker } from '../pipeline/worker.js';
import { startInbox, type InboxSubmitted } from './inbox.js';
import { PROCESSORS } from '../../jobs/index.js';

export interface InboxServiceOptions {
  config: Config;
  logger: Logger;
  /** The drop folder. */
  dir: string;
  /** Resolves when the service should stop (e.g. on a signal). */
  stop: Promise<unknown>;
  onSubmitted?: (info: InboxSubmitted) => void;
}

export async function runInboxService(options: InboxServiceOptions): Promise<void> {
  const { config, logger } = options;
  const credentials = requireCredentials(config);
  const cleanups = new Cleanups(logger);
  try {
    const backend = await openBackend({ config, logger, account: credentials.apiKey, name: 'paylinks-inbox' });
    cleanups.add(() => backend.close());
    const worker = await startWorker({ redisUrl: backend.endpoint.url, credentials, baseUrl: config.baseUrl, settings: config, logger, processors: PROCESSORS, notify: config.notify, mail: config.mail });
    cleanups.add(() => worker.close(shutdownBoundMs(config)), shutdownBoundMs(config) + CLEANUP_TIMEOUT_MS);
    const inbox = await startInbox({
      dir: options.dir,
      backend,
      account: credentials.apiKey,
      logger,
      settleMs: config.inboxSettleMs,
      pollMs: config.inboxPollMs,
      onSubmitted: options.onSubmitted,
    });
    cleanups.add(() => inbox.close());
    await options.stop;
    logger.info('stopping: the drop folder first, then the rows in flight');
  } finally {
    await cleanups.release();
  }
}
