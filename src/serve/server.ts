/**
 * `paylinks serve`: one process with the HTTP API, the web page and (unless
 * told not to) the workers. {@link startServer} opens everything in order,
 * registers every plugin in one place, and closes in reverse: the HTTP server
 * first (no new requests; uploads and requests in flight finish; progress
 * streams end), then the workers (rows in flight finish), then Redis.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { CLEANUP_TIMEOUT_MS, Cleanups } from '../core/cleanups.js';
import { requireApiKey, type Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { createWorkerMetrics } from '../pipeline/metrics.js';
import { openBackend } from '../pipeline/backend.js';
import { openPaywintTarget } from '../pipeline/paywint-target.js';
import { HOLD_TTL_SECONDS } from '../pipeline/producer.js';
import { shutdownBoundMs, startWorker } from '../pipeline/worker.js';
import type { SimulatorHandle, SimulatorOptions } from '../paywint/simulator/index.js';
import { bearerAuth, resolveTokens, SignInLimiter, type SignInLimitOptions } from './auth.js';
import { batchesApi } from './batches-api.js';
import type { ServeContext } from './context.js';
import { eventsApi } from './events.js';
import { errorHandlerPlugin } from './http-errors.js';
import { invoicesApi } from './invoices-api.js';
import { healthRoute, metricsRoutes, serverInfoRoute } from './ops.js';
import { pageRoutes } from './page.js';
import { paymentEventsApi } from './payment-events.js';
import { paywintWebhook } from './paywint-webhook.js';
import { mailApi } from './mail-api.js';
import { reportApi } from './report-api.js';
import { PaymentStatusStore } from '../pipeline/payment-status/store.js';
import { securityHeadersPlugin } from './security-headers.js';
import { acceptRawFiles } from './upload.js';
import { PROCESSORS } from '../../jobs/index.js';


/** A plugin added to the server (a drop folder, notifications...): registered with the context, closed by its own `onClose`. */
export type ServePlugin = FastifyPluginAsync<ServeContext>;

export interface ServeOptions {
  config: Config;
  logger: Logger;
  /** Start the Paywint simulator here and use it (true, or its options). Default false. */
  simulate?: boolean | SimulatorOptions;
  /** Run the workers in this process. Default true; false when `paylinks worker` processes do the work. */
  worker?: boolean;
  /** More plugins, registered after the built-in ones. */
  plugins?: ServePlugin[];
  /** How long a held batch waits for its release, in seconds. Default 86400 (24 hours). */
  holdTtlSeconds?: number;
  /** How often a progress stream sends, in milliseconds. Default 1000. */
  eventsIntervalMs?: number;
  /** The failed sign-in limit per client address. Default 10 a minute. */
  signInLimit?: SignInLimitOptions;
}

export interface ServerHandle {
  /** Where it listens, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** With a token made at start (loopback, none configured): the page's URL that signs in with it. */
  signInUrl: string | undefined;
  app: FastifyInstance;
  simulator: SimulatorHandle | undefined;
  /** Stops everything, in reverse order of opening. */
  close(): Promise<void>;
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startServer(options: ServeOptions): Promise<ServerHandle> {
  const { config, logger } = options;
  const { tokens, generated } = resolveTokens(config.apiTokens, config.httpHost);
  const withWorker = options.worker ?? true;
  const cleanups = new Cleanups(logger);
  try {
    const paywint = withWorker || options.simulate ? await openPaywintTarget(config, options.simulate, logger) : undefined;
    if (paywint) cleanups.add(() => paywint.close());
    const account = paywint?.credentials.apiKey ?? requireApiKey(config);

    const backend = await openBackend({ config, logger, account, name: 'paylinks-serve' });
    cleanups.add(() => backend.close());
    const metrics = createWorkerMetrics({ queue: backend.queue, store: backend.store, payments: new PaymentStatusStore(backend.redis, backend.keys, account) });
    const worker =
      withWorker && paywint
        ? await startWorker({ redisUrl: backend.endpoint.url, credentials: paywint.credentials, baseUrl: paywint.baseUrl, settings: config, logger, processors: PROCESSORS, events: metrics.events, notify: config.notify, mail: config.mail })
        : undefined;
    if (worker) cleanups.add(() => worker.close(shutdownBoundMs(config)), shutdownBoundMs(config) + CLEANUP_TIMEOUT_MS);

    // Aborted as the server starts to close: uploads stop reading their files.
    const stopping = new AbortController();
    const ctx: ServeContext = {
      config,
      logger,
      backend,
      account,
      simulated: Boolean(options.simulate),
      maxUploadBytes: Math.round(config.maxUploadMb * 1e6),
      holdTtlSeconds: options.holdTtlSeconds ?? HOLD_TTL_SECONDS,
      eventsIntervalMs: options.eventsIntervalMs ?? 1000,
      metrics: metrics.registry,
      healthy: async () => (worker ? worker.worker.isRunning() : true) && (await backend.redis.ping()) === 'PONG',
      authenticate: bearerAuth(tokens, new SignInLimiter(options.signInLimit)),
      stopping: stopping.signal,
    };
    const app = await buildApp(ctx, options.plugins ?? []);
    cleanups.add(async () => {
      // Uploads in flight may finish within the bound; then a file still being read stops at its next chunk,
      // whatever it holds, and the connections are cut.
      let cut: NodeJS.Timeout | undefined;
      const bound = setTimeout(() => {
        stopping.abort();
        // A moment for the uploads stopped to be answered (503), then what is left is cut.
        cut = setTimeout(() => app.server.closeAllConnections(), 1000).unref();
      }, config.uploadShutdownMs).unref();
      try {
        await app.close();
      } finally {
        clearTimeout(bound);
        clearTimeout(cut);
      }
    }, config.uploadShutdownMs + CLEANUP_TIMEOUT_MS);
    await app.listen({ host: config.httpHost, port: config.httpPort });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.httpPort;
    const url = `http://${hostForUrl(config.httpHost)}:${port}`;
    // The simulator started here sends its payment events to this server's own webhook route.
    if (paywint?.simulator !== undefined && config.webhookSecret !== undefined) {
      paywint.simulator.setWebhooks({ url: `${url}/webhooks/paywint/${encodeURIComponent(config.webhookSecret)}` });
    }
    logger.info({ url, workers: withWorker, simulate: Boolean(options.simulate), maxUploadMb: config.maxUploadMb }, 'serving');
    return {
      url,
      // The token travels in the fragment: browsers never send it, so no access log sees it.
      signInUrl: generated === undefined ? undefined : `${url}/#token=${generated}`,
      app,
      simulator: paywint?.simulator,
      close: () => cleanups.release(),
    };
  } catch (error) {
    await cleanups.release();
    throw error;
  }
}

/** The Fastify app: every plugin, registered here in one place. */
export async function buildApp(ctx: ServeContext, plugins: readonly ServePlugin[]): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is Fastify's logger; only their declared types differ.
    loggerInstance: ctx.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // One line per request, written by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: ctx.config.trustProxy ?? false,
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // While closing, a request still in flight ends its connection with its answer: a kept-alive
  // connection would otherwise hold the process open until its keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    // The webhook route's secret is in its path: never in a log.
    const url = request.url.split('?')[0]!.replace(/^\/webhooks\/paywint\/.*/, '/webhooks/paywint/…');
    request.log.info({ method: request.method, url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  await app.register(errorHandlerPlugin);
  await app.register(securityHeadersPlugin);
  await app.register(swagger, {
    openapi: {
      info: { title: 'paylinks', description: 'Upload invoice files, follow their batches, download the output CSV.', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from PAYLINKS_API_TOKENS' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(multipart);
  acceptRawFiles(app);

  await app.register(healthRoute, ctx);
  await app.register(pageRoutes);
  // Paywint sends no token: its secret is in the path (see paywint-webhook.ts).
  await app.register(paywintWebhook, ctx);
  // Everything below needs the token.
  await app.register(async (authed) => {
    authed.addHook('onRequest', ctx.authenticate);
    await authed.register(batchesApi, ctx);
    await authed.register(reportApi, ctx);
    await authed.register(mailApi, ctx);
    await authed.register(eventsApi, ctx);
    await authed.register(invoicesApi, ctx);
    await authed.register(paymentEventsApi, ctx);
    await authed.register(metricsRoutes, ctx);
    await authed.register(serverInfoRoute, ctx);
  });
  for (const plugin of plugins) await app.register(plugin, ctx);
  await app.ready();
  return app;
}
