/** What every plugin of `paylinks serve` is registered with: the backend, the account and the server's settings. */
import type { onRequestHookHandler } from 'fastify';
import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Backend } from '../pipeline/backend.js';

export interface ServeContext {
  config: Config;
  logger: Logger;
  backend: Backend;
  /** The Paywint API key uploads run under (never the secret). */
  account: string;
  /** Whether this server's Paywint is the simulator started with it (`serve --simulate`): its links are not real. */
  simulated: boolean;
  /** The largest upload accepted, in bytes. */
  maxUploadBytes: number;
  /** How long a held batch waits for its release, in seconds. */
  holdTtlSeconds: number;
  /** How often `/events` sends progress, in milliseconds. */
  eventsIntervalMs: number;
  /** Prometheus metrics of this process (its workers' included). */
  metrics: Registry;
  /** Whether the process is healthy (its workers run, Redis answers). */
  healthy(): Promise<boolean>;
  /** The bearer-token check: add it as an `onRequest` hook to a plugin's routes. */
  authenticate: onRequestHookHandler;
  /**
   * Aborted when the server starts to close (SIGTERM): a file being read for
   * an upload stops at its next chunk, whatever it holds, and the upload is
   * answered 503.
   */
  stopping: AbortSignal;
}
