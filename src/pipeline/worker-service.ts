/**
 * `paylinks worker`: a long-running worker process. Drains the queue for
 * every batch, serves `/healthz` and `/metrics`, and shuts down within a
 * bounded time on SIGINT/SIGTERM, finishing the requests in flight.
 */
import { PaymentStatusStore } from './payment-status/store.js';
import { openBackend } from './backend.js';
import { CLEANUP_TIMEOUT_MS, Cleanups } from '../core/cleanups.js';
import { requireCredentials, type Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { createWorkerMetrics, serveMetrics } from './metrics.js';
import type { Processors } from './processors.js';
import { shutdownBoundMs, startWorker } from './worker.js';

export interface WorkerServiceOptions {
  config: Config;
  logger: Logger;
  /** The job processors (jobs/index.ts), handed in by the entry point. */
  processors: Processors;
  /** Resolves when the service should stop (e.g. on a signal). */
  stop: Promise<unknown>;
  /** Host for the metrics server. Default 127.0.0.1. */
  metricsHost?: string;
  /** Called once listening, with the metrics port. */
  onReady?: (info: { metricsPort: number }) => void;
}

export async function runWorkerService(options: WorkerServiceOptions): Promise<void> {
  const { config, logger } = options;
  const credentials = requireCredentials(config);
  const cleanups = new Cleanups(logger);
  try {
    const backend = await openBackend({ config, logger, account: credentials.apiKey, name: 'paylinks-worker-admin' });
    cleanups.add(() => backend.close());
    // Payments by status and webhooks accepted / rejected / contradicted, as serve's /metrics has them.
    const metrics = createWorkerMetrics({ queue: backend.queue, store: backend.store, payments: new PaymentStatusStore(backend.redis, backend.keys, credentials.apiKey) });
    const worker = await startWorker({ redisUrl: backend.endpoint.url, credentials, baseUrl: config.baseUrl, settings: config, logger, processors: options.processors, events: metrics.events, notify: config.notify, mail: config.mail });
    cleanups.add(() => worker.close(shutdownBoundMs(config)), shutdownBoundMs(config) + CLEANUP_TIMEOUT_MS);
    const server = await serveMetrics({
      port: config.metricsPort,
      host: options.metricsHost,
      registry: metrics.registry,
      healthy: async () => worker.worker.isRunning() && (await backend.redis.ping()) === 'PONG',
    });
    cleanups.add(() => server.close());
    logger.info({ metricsPort: server.port, concurrency: config.concurrency, rateLimit: config.rateLimit, prefix: config.prefix }, 'worker ready');
    options.onReady?.({ metricsPort: server.port });
    await options.stop;
    logger.info({ boundMs: shutdownBoundMs(config) }, 'stopping: finishing the requests in flight');
  } finally {
    await cleanups.release();
  }
}
