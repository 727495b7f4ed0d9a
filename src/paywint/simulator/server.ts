/**
 * The Paywint simulator's HTTP server: a local server that behaves as
 * Paywint's create endpoint is documented, with fault injection. Every test,
 * demo and benchmark talks to it; `paylinks simulate` runs it on its own.
 *
 * A request to the Paywint API goes through, in this order:
 * 1. routing: unknown path 404, wrong method 405 (as FastAPI does, no auth);
 * 2. authentication: both `X-Api-Key` and `X-Api-Secret` must match, else 401
 *    `{"detail": "Invalid API credentials"}` (a missing header too, although
 *    FastAPI would likely answer 422 for a missing required header);
 * 3. the server-side rate limit (per account, so after authentication, before
 *    any work): 429 with `Retry-After`; only admitted requests count;
 * 4. injected faults decided by one random draw (`faults.ts`): 500/503 and 429
 *    answer before any work, so no link is created; a hang or a drop lets the
 *    request go on;
 * 5. body validation (`validation.ts`), so an invalid request is answered 422
 *    even when a hang or a drop was drawn;
 * 6. creation (`endpoints.ts`): a fresh payment id, one ledger entry per
 *    success (`ledger.ts`; invoice numbers are not de-duplicated: a second
 *    request makes a second link);
 * 7. then the drawn hang (never answer, socket kept open) or drop (socket
 *    destroyed) or, after the configured latency, the 200.
 *
 * `/__simulator/...` routes let a test or an operator read the ledger and the
 * stats, reset them, and change the faults at run time.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FaultInjector, type SimulatorFaults } from './faults.js';
import { createPaymentLink, getPayment, listPayments, type Answer } from './endpoints.js';
import { preciseNowMs, SimulatorLedger, type LedgerEntry, type SimulatorStats } from './ledger.js';
import { createStrayLink, movePayment, paymentControl, webhookControl, type StrayLink } from './controls.js';
import { WebhookSender, type WebhookRecord, type WebhookSettings } from './webhooks.js';
import { startDemoPayer, type DemoPayerOptions } from './demo.js';
import { PaymentBook, type PaymentMove, type SimulatorPayment } from './payments.js';

/** The API key the simulator accepts unless told otherwise. */
export const SIMULATOR_DEMO_API_KEY = '3f6c1e2a-8b4d-4c7e-9a1f-5d2b7e9c0a14';
/** The secret the simulator accepts unless told otherwise. Not a real credential. */
export const SIMULATOR_DEMO_API_SECRET = 'paywint-simulator-demo-secret';
export const SIMULATOR_DEFAULT_LINK_BASE_URL = 'https://pay.sandbox.paywint.com/l';

export interface SimulatorOptions extends Partial<SimulatorFaults> {
  /** Port to listen on. Default 0 (any free port). */
  port?: number;
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** The accepted API key. Default {@link SIMULATOR_DEMO_API_KEY}. */
  apiKey?: string;
  /** The accepted secret. Default {@link SIMULATOR_DEMO_API_SECRET}. */
  apiSecret?: string;
  /** Links are `<linkBaseUrl>/<payment id>`. Default `https://pay.sandbox.paywint.com/l`. */
  linkBaseUrl?: string;
  /** Seed for the fault and jitter draws, for runs that repeat. Default: unseeded. */
  seed?: number;
  /** Webhook delivery: the URL events go to and its faults (`webhooks.ts`). Default: no URL, no faults. */
  webhooks?: Partial<WebhookSettings>;
  /** Payers act on a share of the links over a few minutes (`demo.ts`), for demos. Default false. */
  demoPayer?: boolean | Partial<DemoPayerOptions>;
}

export interface SimulatorHandle {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  /** The accepted API key (not the secret). */
  apiKey: string;
  ledger(): LedgerEntry[];
  stats(): SimulatorStats;
  /** Changes faults at run time; unnamed ones keep their value. */
  setFaults(faults: Partial<SimulatorFaults>): void;
  /** Every payment, the ground truth (see `payments.ts`). */
  payments(): SimulatorPayment[];
  /** Moves a payment (and sends its webhook event); returns it, or the new payment of a retry. */
  movePayment(paymentId: string, move: PaymentMove): SimulatorPayment;
  /** Makes a link as someone else would (not counted as a request). */
  createStrayLink(link: StrayLink): LedgerEntry;
  /** Changes the webhook URL or its faults; unnamed settings keep their value. */
  setWebhooks(settings: Partial<WebhookSettings>): void;
  /** Every webhook event so far, with what happened to it. */
  webhooks(): WebhookRecord[];
  /** Resolves once no webhook delivery is queued, held, late or in flight. */
  webhooksIdle(): Promise<void>;
  /** Clears the ledger, the payments and the stats (and the rate-limit window). */
  reset(): void;
  /** Stops the server, cutting every connection, hung ones included. */
  close(): Promise<void>;
}

const API = '/api/user-api/payment/';
const CREATE_PATH = `${API}create-payment-link`;
const GET_PREFIX = `${API}get/`;
const LIST_PATH = `${API}list/payment-received`;
const MAX_BODY_BYTES = 1024 * 1024;

/** Starts the simulator; resolves once it listens. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const faults = new FaultInjector(options, options.seed);
  const apiKey = options.apiKey ?? SIMULATOR_DEMO_API_KEY;
  const apiSecret = options.apiSecret ?? SIMULATOR_DEMO_API_SECRET;
  const ledger = new SimulatorLedger((options.linkBaseUrl ?? SIMULATOR_DEFAULT_LINK_BASE_URL).replace(/\/+$/, ''));
  const webhooks = new WebhookSender(options.webhooks ?? {}, options.seed);
  const payments = new PaymentBook(ledger, (event) => webhooks.send(event));
  const demo = options.demoPayer
    ? startDemoPayer(
        { linksSince: (index) => ledger.since(index), move: (paymentId, move) => void payments.move(paymentId, move) },
        options.demoPayer === true ? {} : options.demoPayer,
        options.seed,
      )
    : undefined;

  // How late the simulator's own turns come (its event loop, or no core for its process): arrival stamps are late by
  // up to as much, and may bunch by as much. In the stats, for whoever reads per-second counts.
  const loopDelay = monitorEventLoopDelay({ resolution: 2 });
  loopDelay.enable();
  const server = createServer({ keepAlive: true, noDelay: true });
  // Long keep-alive: fewer reconnects under load, and fewer races between a reused socket and its idle close.
  server.keepAliveTimeout = 30_000;
  server.on('connection', () => ledger.countConnection());

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    ledger.countStatus(status);
    if (res.destroyed || res.writableEnded) return;
    if (status === 429) ledger.countRateLimited(preciseNowMs(), Number(headers['retry-after'] ?? 0));
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** Runs `answer` after the configured latency (at once when there is none). */
  function later(res: ServerResponse, answer: () => void): void {
    const delayMs = faults.delayMs();
    if (delayMs <= 0) return answer();
    const timer = setTimeout(answer, delayMs);
    res.once('close', () => clearTimeout(timer));
  }

  function handleApi(req: IncomingMessage, res: ServerResponse, path: string, body: string): void {
    const now = Date.now();
    const isCreate = path === CREATE_PATH;
    ledger.countRequest(isCreate, now);

    if (req.headers['x-api-key'] !== apiKey || req.headers['x-api-secret'] !== apiSecret) {
      return later(res, () => send(res, 401, { detail: 'Invalid API credentials' }));
    }
    const waitMs = faults.admit(now);
    if (waitMs > 0) {
      const seconds = String(Math.max(1, Math.ceil(waitMs / 1000)));
      return later(res, () => send(res, 429, { detail: 'Rate limit exceeded' }, { 'retry-after': seconds }));
    }
    const fault = faults.draw();
    if (fault === 'error') {
      const status = faults.errorStatus();
      return later(res, () => send(res, status, status === 500 ? { detail: 'Internal Server Error' } : { detail: 'Service Unavailable' }));
    }
    if (fault === 'rate-limited') {
      const seconds = String(faults.retryAfterSeconds());
      return later(res, () => send(res, 429, { detail: 'Rate limit exceeded' }, { 'retry-after': seconds }));
    }

    let answer: Answer;
    if (isCreate) {
      answer = createPaymentLink(ledger, req.headers['content-type'], body);
    } else if (path.startsWith(GET_PREFIX)) {
      answer = getPayment(payments, safeDecode(path.slice(GET_PREFIX.length)), () => faults.badAmount());
    } else {
      answer = listPayments(payments, req.headers['content-type'], body, () => faults.badAmount());
    }

    const created = answer.status === 200;
    if (fault === 'hang' && (created || !isCreate)) {
      ledger.countHung();
      // Never answered: the socket stays open until the client gives up or close() cuts it.
      return;
    }
    if (fault === 'drop' && (created || !isCreate)) {
      return later(res, () => {
        ledger.countDropped();
        req.socket.destroy();
      });
    }
    later(res, () => send(res, answer.status, answer.body));
  }

  function handleSimulator(req: IncomingMessage, res: ServerResponse, path: string, body: string): void {
    const route = `${req.method ?? ''} ${path}`;
    if (route === 'GET /__simulator/ledger') return sendPlain(res, 200, ledger.entries());
    if (route === 'GET /__simulator/stats') return sendPlain(res, 200, handle.stats());
    if (route === 'POST /__simulator/reset') {
      handle.reset();
      return sendPlain(res, 200, { ok: true });
    }
    if (route === 'POST /__simulator/faults') {
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        return sendPlain(res, 400, { detail: 'expected a JSON object of faults' });
      }
      try {
        faults.set(json, 'field');
      } catch (error) {
        return sendPlain(res, 400, { detail: error instanceof Error ? error.message : String(error) });
      }
      return sendPlain(res, 200, faults.settings());
    }
    const control = paymentControl(ledger, payments, req.method ?? '', path, body);
    if (control !== undefined) return sendPlain(res, control.status, control.body);
    const url = req.url ?? '';
    void webhookControl(webhooks, req.method ?? '', path, url.includes('?') ? url.slice(url.indexOf('?') + 1) : '', body).then((answer) => {
      if (!res.destroyed) sendPlain(res, answer?.status ?? 404, answer?.body ?? { detail: 'Not Found' });
    });
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = routeOf(req.method, path);
    // Stamped as soon as the request is parsed, before its body is read: the arrival Paywint's limiter would count.
    if (route === 'api') ledger.countArrival(preciseNowMs());
    if (route === 'not-found' || route === 'method-not-allowed') {
      req.resume();
      return sendPlain(res, route === 'not-found' ? 404 : 405, { detail: route === 'not-found' ? 'Not Found' : 'Method Not Allowed' });
    }
    readBody(req, (body) => {
      if (body === undefined) return sendPlain(res, 413, { detail: 'Request body too large' });
      try {
        if (route === 'simulator') handleSimulator(req, res, path, body);
        else handleApi(req, res, path, body);
      } catch (error) {
        // A bug here must not take the server (or the test run) down.
        if (!res.headersSent) sendPlain(res, 500, { detail: `simulator error: ${error instanceof Error ? error.message : String(error)}` });
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    demo?.stop();
    await webhooks.close();
    throw error;
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;

  const handle: SimulatorHandle = {
    url: `http://${urlHost(address)}:${address.port}`,
    apiKey,
    ledger: () => ledger.entries(),
    stats: () => ({ ...ledger.stats(), stampDelayMaxMs: loopDelay.max / 1e6 }),
    setFaults: (next) => faults.set(next, 'option'),
    payments: () => payments.all(),
    movePayment: (paymentId, move) => movePayment(payments, paymentId, move),
    createStrayLink: (link) => createStrayLink(ledger, payments, link),
    setWebhooks: (settings) => webhooks.set(settings),
    webhooks: () => webhooks.records(),
    webhooksIdle: () => webhooks.idle(),
    reset() {
      ledger.reset();
      loopDelay.reset();
      payments.reset();
      webhooks.reset();
      faults.resetWindow();
    },
    close() {
      demo?.stop();
      loopDelay.disable();
      closing ??= Promise.all([
        webhooks.close(),
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Idle keep-alive sockets, requests in flight and hung requests alike.
          server.closeAllConnections();
        }),
      ]).then(() => undefined);
      return closing;
    },
  };
  return handle;
}

type Route = 'api' | 'simulator' | 'not-found' | 'method-not-allowed';

function routeOf(method: string | undefined, path: string): Route {
  if (path === CREATE_PATH || path === LIST_PATH) return method === 'POST' ? 'api' : 'method-not-allowed';
  if (path.startsWith(GET_PREFIX) && path.length > GET_PREFIX.length && !path.includes('/', GET_PREFIX.length)) {
    return method === 'GET' ? 'api' : 'method-not-allowed';
  }
  if (path.startsWith('/__simulator/')) return 'simulator';
  return 'not-found';
}
/** Collects the body as UTF-8; undefined when it exceeds {@link MAX_BODY_BYTES}. */
function readBody(req: IncomingMessage, done: (body: string | undefined) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) return done(undefined);
    done(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function sendPlain(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function urlHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0' || address.address === '') return '127.0.0.1';
  if (address.address === '::') return '[::1]';
  return address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
}

