/**
 * Prometheus metrics and health of a worker process, served over HTTP:
 * `GET /metrics` and `GET /healthz`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue } from 'bullmq';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchStore } from './batch-store.js';
import type { PaymentStatusStore } from './payment-status/store.js';
import { FINISHED_STATES } from './batch-store.js';
import type { CreateLinkEvents } from './create-link-job.js';

export interface WorkerMetrics {
  registry: Registry;
  /** Hooks for the create-link processor. */
  events: CreateLinkEvents;
}

export interface MetricsSources {
  queue: Queue;
  store: BatchStore;
  /** The account's payment statuses: links by payment status, webhooks accepted / rejected / contradicted. */
  payments?: PaymentStatusStore;
}

export function createWorkerMetrics(sources: MetricsSources): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'paylinks_process_' });
  const requests = new Counter({
    name: 'paylinks_paywint_requests_total',
    help: 'Requests to Paywint create-payment-link, by outcome (created or an error code).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const retries = new Counter({ name: 'paylinks_retries_total', help: 'Requests retried inside a job, by error code.', labelNames: ['code'], registers: [registry] });
  const rateWaits = new Counter({
    name: 'paylinks_rate_limit_wait_seconds_total',
    help: 'Time spent waiting for the shared rate limit or a 429 pause, in seconds.',
    registers: [registry],
  });
  new Gauge({
    name: 'paylinks_jobs',
    help: 'create-link jobs in the queue, by state (all batches).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await sources.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'paylinks_batch_rows',
    help: 'Rows of the recent unfinished batches, by status (done counts finished rows; total all).',
    labelNames: ['batch', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const id of await sources.store.recent(20)) {
        const b = await sources.store.get(id);
        if (!b || (FINISHED_STATES.includes(b.state) && b.finishedAt && Date.now() - Date.parse(b.finishedAt) > 3_600_000)) continue;
        this.set({ batch: id, status: 'total' }, b.rows);
        this.set({ batch: id, status: 'done' }, b.done);
        for (const [status, n] of Object.entries(b.counts)) this.set({ batch: id, status }, n);
      }
    },
  });
  const payments = sources.payments;
  if (payments) {
    new Gauge({
      name: 'paylinks_payments',
      help: 'Links of the account by payment status (the whole ledger).',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        for (const [status, n] of Object.entries(await payments.countsByState())) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'paylinks_webhooks_total',
      help: 'Paywint webhook events, all processes together: accepted (queued), rejected (bad body, rate limit), contradicted (GET did not bear them out).',
      labelNames: ['outcome'],
      registers: [registry],
      async collect() {
        const counters = await payments.counters();
        for (const outcome of ['accepted', 'rejected', 'contradicted']) this.set({ outcome }, counters[`webhooks_${outcome}`] ?? 0);
      },
    });
  }
  return {
    registry,
    events: {
      onRequest: (outcome) => requests.inc({ outcome }),
      onRetry: (code) => retries.inc({ code }),
      onRateLimitWait: (ms) => rateWaits.inc(ms / 1000),
    },
  };
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` and `/healthz` (200 `ok` while `healthy()` resolves true,
 * 503 otherwise) on 127.0.0.1 or `host`.
 */
export async function serveMetrics(options: { port: number; host?: string; registry: Registry; healthy: () => Promise<boolean> }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.url === '/metrics') {
          const body = await options.registry.metrics();
          res.writeHead(200, { 'content-type': options.registry.contentType }).end(body);
        } else if (req.url === '/healthz') {
          const ok = await options.healthy().catch(() => false);
          res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'unhealthy\n');
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
        }
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
