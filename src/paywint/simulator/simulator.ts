/**
 * The Paywint simulator: a local HTTP server that behaves as Paywint's create
 * endpoint is documented, with fault injection. Every test, demo and
 * benchmark talks to it; `paylinks simulate` runs it on its own.
 *
 * A request to the Paywint API goes through, in this order:
 * 1. routing: unknown path 404, wrong method 405 (as FastAPI does, no auth);
 * 2. authentication: both `X-Api-Key` and `X-Api-Secret` must match, else 401
 *    `{"detail": "Invalid API credentials"}` (a missing header too, although
 *    FastAPI would likely answer 422 for a missing required header);
 * 3. the server-side rate limit (per account, so after authentication, before
 *    any work): 429 with `Retry-After`; only admitted requests count;
 * 4. injected faults decided by one random draw: 500/503 and 429 answer before
 *    any work, so no link is created; a hang or a drop lets the request go on;
 * 5. body validation (FastAPI/pydantic style 422), so an invalid request is
 *    answered 422 even when a hang or a drop was drawn;
 * 6. creation: a fresh payment id, one ledger entry per success (invoice
 *    numbers are not de-duplicated: a second request makes a second link);
 * 7. then the drawn hang (never answer, socket kept open) or drop (socket
 *    destroyed) or, after the configured latency, the 200.
 *
 * Amounts must be JSON numbers: pydantic's lax mode would also take numeric
 * strings, the contract says number, and paylinks must send numbers.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';

/** The API key the simulator accepts unless told otherwise. */
export const SIMULATOR_DEMO_API_KEY = '3f6c1e2a-8b4d-4c7e-9a1f-5d2b7e9c0a14';
/** The secret the simulator accepts unless told otherwise. Not a real credential. */
export const SIMULATOR_DEMO_API_SECRET = 'paywint-simulator-demo-secret';
export const SIMULATOR_DEFAULT_LINK_BASE_URL = 'https://pay.sandbox.paywint.com/l';

export interface SimulatorFaults {
  /** Fixed latency before each API answer, in milliseconds. Default 0. */
  latencyMs: number;
  /** Random extra latency, 0 to this many milliseconds. Default 0. */
  jitterMs: number;
  /** Probability of a 500 or a 503 (half each); the link is not created. Default 0. */
  errorRate: number;
  /** Probability of a 429 with `Retry-After`; the link is not created. Default 0. */
  rateLimitedRate: number;
  /** `Retry-After` of injected 429s, in seconds. Default 1. */
  retryAfterSeconds: number;
  /** Probability of creating the link, then never answering (the socket stays open). Default 0. */
  hangRate: number;
  /** Probability of creating the link, then destroying the socket without an answer. Default 0. */
  dropRate: number;
  /** Server-side limit in requests per second (sliding 1 s window), answered 429 with `Retry-After`; 0 for none. Default 0. */
  rateLimitPerSecond: number;
}

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
}

export interface LedgerEntry {
  paymentId: string;
  paymentLink: string;
  invoiceNumber: string | null;
  /** The amount as received, e.g. `"150.75"` (the JSON literal when it could be recovered). */
  amount: string;
  amountCents: number;
  description: string | null;
  /** ISO 8601. */
  createdAt: string;
}

export interface SimulatorStats {
  /** Requests to the Paywint API (every endpoint; not the `/__simulator` ones). */
  requests: number;
  /** Answers by HTTP status, e.g. `{"200": 98, "429": 2}`. */
  byStatus: Record<string, number>;
  /** Links created. */
  created: number;
  /** Requests left unanswered on purpose (`hangRate`). */
  hung: number;
  /** Connections destroyed on purpose (`dropRate`). */
  dropped: number;
  /** Arrival time (`Date.now()`) of every create request, for rate-limit checks. */
  requestTimesMs: number[];
  /** TCP connections accepted (keep-alive: far fewer than requests). */
  connections: number;
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
  /** Clears the ledger and the stats (and the rate-limit window). */
  reset(): void;
  /** Stops the server, cutting every connection, hung ones included. */
  close(): Promise<void>;
}

const API = '/api/user-api/payment/';
const CREATE_PATH = `${API}create-payment-link`;
const GET_PREFIX = `${API}get/`;
const LIST_PATH = `${API}list/payment-received`;
const MAX_BODY_BYTES = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const DEFAULT_FAULTS: SimulatorFaults = {
  latencyMs: 0,
  jitterMs: 0,
  errorRate: 0,
  rateLimitedRate: 0,
  retryAfterSeconds: 1,
  hangRate: 0,
  dropRate: 0,
  rateLimitPerSecond: 0,
};

const probability = z.number().min(0).max(1);
const nonNegative = z.number().min(0).max(86_400_000);
const FaultsSchema = z
  .object({
    latencyMs: nonNegative,
    jitterMs: nonNegative,
    errorRate: probability,
    rateLimitedRate: probability,
    retryAfterSeconds: z.number().min(0).max(86_400),
    hangRate: probability,
    dropRate: probability,
    rateLimitPerSecond: z.number().min(0).max(1_000_000),
  })
  .partial()
  .strict();

/** A pydantic v2 validation error item, as FastAPI puts them in `detail`. */
interface ValidationItem {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

type Fault = 'none' | 'error' | 'rate-limited' | 'hang' | 'drop';

interface CreateInput {
  amount: string;
  amountCents: number;
  description: string | null;
  invoiceNumber: string | null;
}

/** Starts the simulator; resolves once it listens. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const faults: SimulatorFaults = { ...DEFAULT_FAULTS, ...checkFaults(pickFaults(options), 'option') };
  const apiKey = options.apiKey ?? SIMULATOR_DEMO_API_KEY;
  const apiSecret = options.apiSecret ?? SIMULATOR_DEMO_API_SECRET;
  const linkBaseUrl = (options.linkBaseUrl ?? SIMULATOR_DEFAULT_LINK_BASE_URL).replace(/\/+$/, '');
  const random = options.seed === undefined ? Math.random : seededRandom(options.seed);

  let ledger: LedgerEntry[] = [];
  let byId = new Map<string, LedgerEntry>();
  let stats = emptyStats();
  let limiter = new SlidingWindowLimiter(faults.rateLimitPerSecond);

  const server = createServer({ keepAlive: true, noDelay: true });
  // Long keep-alive: fewer reconnects under load, and fewer races between a reused socket and its idle close.
  server.keepAliveTimeout = 30_000;
  server.on('connection', () => {
    stats.connections += 1;
  });

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    if (res.destroyed || res.writableEnded) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** Runs `answer` after the configured latency (at once when there is none). */
  function later(res: ServerResponse, answer: () => void): void {
    const delayMs = faults.latencyMs + (faults.jitterMs > 0 ? Math.floor(random() * (faults.jitterMs + 1)) : 0);
    if (delayMs <= 0) return answer();
    const timer = setTimeout(answer, delayMs);
    res.once('close', () => clearTimeout(timer));
  }

  function drawFault(): Fault {
    const { errorRate, rateLimitedRate, hangRate, dropRate } = faults;
    if (errorRate + rateLimitedRate + hangRate + dropRate === 0) return 'none';
    const r = random();
    if (r < errorRate) return 'error';
    if (r < errorRate + rateLimitedRate) return 'rate-limited';
    if (r < errorRate + rateLimitedRate + hangRate) return 'hang';
    if (r < errorRate + rateLimitedRate + hangRate + dropRate) return 'drop';
    return 'none';
  }

  function create(input: CreateInput): LedgerEntry {
    const paymentId = randomUUID();
    const entry: LedgerEntry = {
      paymentId,
      paymentLink: `${linkBaseUrl}/${paymentId}`,
      invoiceNumber: input.invoiceNumber,
      amount: input.amount,
      amountCents: input.amountCents,
      description: input.description,
      createdAt: new Date().toISOString(),
    };
    ledger.push(entry);
    byId.set(paymentId, entry);
    stats.created += 1;
    return entry;
  }

  function handleApi(req: IncomingMessage, res: ServerResponse, path: string, body: string): void {
    stats.requests += 1;
    const now = Date.now();
    const isCreate = path === CREATE_PATH;
    if (isCreate) stats.requestTimesMs.push(now);

    if (req.headers['x-api-key'] !== apiKey || req.headers['x-api-secret'] !== apiSecret) {
      return later(res, () => send(res, 401, { detail: 'Invalid API credentials' }));
    }
    const waitMs = limiter.admit(now);
    if (waitMs > 0) {
      const seconds = String(Math.max(1, Math.ceil(waitMs / 1000)));
      return later(res, () => send(res, 429, { detail: 'Rate limit exceeded' }, { 'retry-after': seconds }));
    }
    const fault = drawFault();
    if (fault === 'error') {
      const status = random() < 0.5 ? 500 : 503;
      return later(res, () => send(res, status, status === 500 ? { detail: 'Internal Server Error' } : { detail: 'Service Unavailable' }));
    }
    if (fault === 'rate-limited') {
      const seconds = String(faults.retryAfterSeconds);
      return later(res, () => send(res, 429, { detail: 'Rate limit exceeded' }, { 'retry-after': seconds }));
    }

    let answer: { status: number; body: unknown };
    let created = false;
    if (isCreate) {
      const input = validateCreate(req.headers['content-type'], body);
      if (Array.isArray(input)) {
        answer = { status: 422, body: { detail: input } };
      } else {
        const entry = create(input);
        created = true;
        answer = { status: 200, body: envelope('Payment link created', { payment_id: entry.paymentId, payment_link: entry.paymentLink }) };
      }
    } else if (path.startsWith(GET_PREFIX)) {
      answer = getPayment(safeDecode(path.slice(GET_PREFIX.length)));
    } else {
      answer = listPayments(req.headers['content-type'], body);
    }

    if (fault === 'hang' && (created || !isCreate)) {
      stats.hung += 1;
      // Never answered: the socket stays open until the client gives up or close() cuts it.
      return;
    }
    if (fault === 'drop' && (created || !isCreate)) {
      return later(res, () => {
        stats.dropped += 1;
        req.socket.destroy();
      });
    }
    later(res, () => send(res, answer.status, answer.body));
  }

  function getPayment(id: string): { status: number; body: unknown } {
    if (!UUID.test(id)) {
      return {
        status: 422,
        body: { detail: [{ type: 'uuid_parsing', loc: ['path', 'payment_id'], msg: 'Input should be a valid UUID, invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-]', input: id }] },
      };
    }
    const entry = byId.get(id.toLowerCase());
    if (entry === undefined) return { status: 404, body: { detail: 'Payment not found' } };
    return { status: 200, body: envelope('Payment fetched', paymentRead(entry)) };
  }

  function listPayments(contentType: string | undefined, body: string): { status: number; body: unknown } {
    const parsed = parseJsonBody(contentType, body);
    if (Array.isArray(parsed)) return { status: 422, body: { detail: parsed } };
    const errors: ValidationItem[] = [];
    const rows = parsed.rows_per_page;
    const page = parsed.page_no;
    if (rows === undefined) errors.push(missing('rows_per_page', parsed));
    else if (rows !== 10 && rows !== 20 && rows !== 50 && rows !== 100) {
      errors.push({ type: 'literal_error', loc: ['body', 'rows_per_page'], msg: 'Input should be 10, 20, 50 or 100', input: rows, ctx: { expected: '10, 20, 50 or 100' } });
    }
    if (page === undefined) errors.push(missing('page_no', parsed));
    else if (typeof page !== 'number' || !Number.isInteger(page)) {
      errors.push({ type: 'int_type', loc: ['body', 'page_no'], msg: 'Input should be a valid integer', input: page });
    } else if (page < 1) {
      errors.push({ type: 'greater_than_equal', loc: ['body', 'page_no'], msg: 'Input should be greater than or equal to 1', input: page, ctx: { ge: 1 } });
    }
    if (errors.length > 0 || typeof rows !== 'number' || typeof page !== 'number') return { status: 422, body: { detail: errors } };
    const records = ledger.slice((page - 1) * rows, page * rows).map(paymentRead);
    return { status: 200, body: envelope('Payments fetched', { total_records: ledger.length, page_no: page, rows_per_page: rows, records }) };
  }

  function handleSimulator(req: IncomingMessage, res: ServerResponse, path: string, body: string): void {
    const route = `${req.method ?? ''} ${path}`;
    if (route === 'GET /__simulator/ledger') return sendPlain(res, 200, ledger);
    if (route === 'GET /__simulator/stats') return sendPlain(res, 200, snapshot());
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
        handle.setFaults(checkFaults(json, 'field'));
      } catch (error) {
        return sendPlain(res, 400, { detail: error instanceof Error ? error.message : String(error) });
      }
      return sendPlain(res, 200, { ...faults });
    }
    sendPlain(res, 404, { detail: 'Not Found' });
  }

  function snapshot(): SimulatorStats {
    return { ...stats, byStatus: { ...stats.byStatus }, requestTimesMs: [...stats.requestTimesMs] };
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = routeOf(req.method, path);
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
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;

  const handle: SimulatorHandle = {
    url: `http://${urlHost(address)}:${address.port}`,
    apiKey,
    ledger: () => ledger.map((e) => ({ ...e })),
    stats: snapshot,
    setFaults(next) {
      const checked = checkFaults(next, 'option');
      Object.assign(faults, checked);
      if (checked.rateLimitPerSecond !== undefined) limiter = new SlidingWindowLimiter(faults.rateLimitPerSecond);
    },
    reset() {
      ledger = [];
      byId = new Map();
      stats = emptyStats();
      limiter = new SlidingWindowLimiter(faults.rateLimitPerSecond);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive sockets, requests in flight and hung requests alike.
        server.closeAllConnections();
      });
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

function envelope(message: string, data: unknown): unknown {
  return { success: true, message, data, queryGeneratedTime: Date.now() / 1000 };
}

function paymentRead(entry: LedgerEntry): Record<string, unknown> {
  return {
    payment_id: entry.paymentId,
    amount: Number(entry.amount),
    currency: 'USD',
    description: entry.description,
    status: 'pending',
    created_at: entry.createdAt,
    payment_date: null,
    failure_reason: null,
    payer_name: null,
    payer_email: null,
    payee_name: 'Simulated Merchant',
  };
}

/**
 * The body as FastAPI reads it: JSON when the content type is JSON or absent,
 * otherwise raw bytes that fail as "not an object".
 */
function parseJsonBody(contentType: string | undefined, body: string): Record<string, unknown> | ValidationItem[] {
  if (body.trim() === '') return [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }];
  const mediaType = contentType?.split(';')[0]!.trim().toLowerCase();
  const isJson = mediaType === undefined || mediaType === '' || mediaType === 'application/json' || /^[^/]+\/[^/]+\+json$/.test(mediaType);
  let value: unknown = body;
  if (isJson) {
    try {
      value = JSON.parse(body);
    } catch (error) {
      // Python reports the character position; V8 only sometimes does.
      const position = /position (\d+)/.exec(error instanceof Error ? error.message : '');
      return [{ type: 'json_invalid', loc: ['body', position ? Number(position[1]) : 0], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } }];
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: value }];
  }
  return value as Record<string, unknown>;
}

function missing(field: string, input: unknown): ValidationItem {
  return { type: 'missing', loc: ['body', field], msg: 'Field required', input };
}

/** Validates a create body as the contract does; every problem is reported, as pydantic does. */
function validateCreate(contentType: string | undefined, body: string): CreateInput | ValidationItem[] {
  const parsed = parseJsonBody(contentType, body);
  if (Array.isArray(parsed)) return parsed;
  const errors: ValidationItem[] = [];
  const { amount, description, invoice_number: invoiceNumber } = parsed;
  if (amount === undefined) errors.push(missing('amount', parsed));
  else if (typeof amount !== 'number') errors.push({ type: 'float_type', loc: ['body', 'amount'], msg: 'Input should be a valid number', input: amount });
  else if (!(amount > 0)) errors.push({ type: 'greater_than', loc: ['body', 'amount'], msg: 'Input should be greater than 0', input: amount, ctx: { gt: 0 } });
  checkOptionalString(errors, 'description', description, 255);
  checkOptionalString(errors, 'invoice_number', invoiceNumber, 20);
  if (errors.length > 0) return errors;

  const literal = amountLiteral(body, amount as number);
  return {
    amount: literal,
    amountCents: decimalToCents(literal),
    description: (description as string | null | undefined) ?? null,
    invoiceNumber: (invoiceNumber as string | null | undefined) ?? null,
  };
}

function checkOptionalString(errors: ValidationItem[], field: string, value: unknown, maxLength: number): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'string') {
    errors.push({ type: 'string_type', loc: ['body', field], msg: 'Input should be a valid string', input: value });
    // Python counts code points, not UTF-16 units; only long strings need the slower count.
  } else if (value.length > maxLength && [...value].length > maxLength) {
    errors.push({
      type: 'string_too_long',
      loc: ['body', field],
      msg: `String should have at most ${maxLength} characters`,
      input: value,
      ctx: { max_length: maxLength },
    });
  }
}

/**
 * The amount's literal as it appeared in the JSON text (`1234.50` stays
 * `"1234.50"`), when it can be found and means the parsed number; else the
 * number's shortest form.
 */
function amountLiteral(body: string, amount: number): string {
  const match = /"amount"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(body);
  const literal = match?.[1];
  return literal !== undefined && Number(literal) === amount ? literal : String(amount);
}

/** Decimal literal to whole cents, exactly (half up beyond two decimals), with no float arithmetic. */
function decimalToCents(literal: string): number {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m) return Number.NaN;
  const digits = `${m[2]}${m[3] ?? ''}`;
  const shift = Number(m[4] ?? 0) - (m[3]?.length ?? 0) + 2;
  let cents: bigint;
  if (shift >= 0) {
    cents = BigInt(digits) * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    const whole = BigInt(digits);
    cents = whole / divisor + ((whole % divisor) * 2n >= divisor ? 1n : 0n);
  }
  return Number(m[1] === '-' ? -cents : cents);
}

/**
 * Sliding-window log in a ring: admit when the request `capacity` admissions
 * ago is older than the window. O(1) per request at any rate.
 */
class SlidingWindowLimiter {
  readonly #times: Float64Array;
  readonly #windowMs: number;
  #next = 0;

  constructor(perSecond: number) {
    const capacity = perSecond > 0 ? Math.max(1, Math.round(perSecond)) : 0;
    this.#times = new Float64Array(capacity).fill(Number.NEGATIVE_INFINITY);
    this.#windowMs = capacity > 0 ? (1000 * capacity) / perSecond : 0;
  }

  /** 0 when admitted (and counted), else milliseconds until a slot frees. */
  admit(nowMs: number): number {
    if (this.#times.length === 0) return 0;
    const oldest = this.#times[this.#next]!;
    const freeAt = oldest + this.#windowMs;
    if (freeAt > nowMs) return freeAt - nowMs;
    this.#times[this.#next] = nowMs;
    this.#next = (this.#next + 1) % this.#times.length;
    return 0;
  }
}

function emptyStats(): SimulatorStats {
  return { requests: 0, byStatus: {}, created: 0, hung: 0, dropped: 0, requestTimesMs: [], connections: 0 };
}

function pickFaults(options: Partial<SimulatorFaults>): Partial<SimulatorFaults> {
  const picked: Partial<SimulatorFaults> = {};
  for (const key of Object.keys(DEFAULT_FAULTS) as (keyof SimulatorFaults)[]) {
    if (options[key] !== undefined) picked[key] = options[key];
  }
  return picked;
}

/** Checks a partial set of faults; a bad one is named in a {@link ConfigError}. */
function checkFaults(value: unknown, kind: 'option' | 'field'): Partial<SimulatorFaults> {
  const result = FaultsSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
  const message = issue.code === 'unrecognized_keys' ? `unknown fault ${kind} ${name}` : `simulator ${kind} ${name}: ${issue.message}`;
  throw new ConfigError('CONFIG_INVALID', name || 'faults', message);
}

function urlHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0' || address.address === '') return '127.0.0.1';
  if (address.address === '::') return '[::1]';
  return address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
}

