/**
 * The Paywint client: one HTTP attempt per call, every outcome mapped to a
 * created link or a {@link PaywintError} with a stable code.
 *
 * Retries, backoff and rate limiting belong to the caller (the worker), so
 * that every request sent can be counted against one shared rate limit.
 *
 * What may have created a link although no answer says so (`outcomeUnknown`):
 * - a timeout, and a connection cut after the request may have been written
 *   (`UND_ERR_SOCKET`, `ECONNRESET`, a garbled answer, any error we do not
 *   recognise): the safe side, since the endpoint has no idempotency key;
 * - 502 and 504: a gateway answered, the application behind it may have acted;
 * - a 2xx whose body is not a usable link, unless it says `success: false`.
 * Known not to have created one: connection refused, DNS failures, connect
 * timeouts and TLS failures (nothing was sent), and every answer from the
 * application itself, 500 and 503 included (it says it failed).
 */
import { STATUS_CODES } from 'node:http';
import { Pool } from 'undici';
import { z } from 'zod';
import { ConfigError, PaywintError, type PaywintErrorCode, type PaywintErrorDetails } from '../core/errors.js';
import { centsToJsonNumber, parseAmount } from '../intake/money.js';

export interface PaywintClientOptions {
  /** Paywint base URL, e.g. `https://api.sandbox.paywint.com` or `http://127.0.0.1:4010`. A trailing slash is ignored. */
  baseUrl: string;
  /** `X-Api-Key`: a UUID that identifies the account. */
  apiKey: string;
  /** `X-Api-Secret`: never logged, never part of an error. */
  apiSecret: string;
  /**
   * Whole request time bound, in milliseconds: waiting for a pooled
   * connection, connecting, sending and reading the answer's body.
   */
  timeoutMs: number;
  /**
   * Keep-alive connections to Paywint at most. Default 64. Keep it at least as
   * high as the requests in flight: a request that times out while queued for a
   * connection is reported as `PAYWINT_TIMEOUT` (outcome unknown) too.
   */
  connections?: number;
}

export interface CreateLinkRequest {
  invoiceNumber: string;
  /** A positive whole number of cents. */
  amountCents: number;
  description: string | null;
}

export interface CreatedLink {
  paymentId: string;
  paymentLink: string;
}

/** One payment as `GET /payment/get/{payment_id}` returns it (the fields paylinks uses). */
export interface PaymentRecord {
  paymentId: string;
  /** Whole cents, or null when the amount Paywint returned is not a plain amount of money. */
  amountCents: number | null;
  currency: string | null;
  description: string | null;
  status: string | null;
  createdAt: string | null;
}

export interface RequestOptions {
  /** Cancels the request. A cancelled create is reported as outcome unknown once it may have been sent. */
  signal?: AbortSignal;
}

export const CREATE_PAYMENT_LINK_PATH = '/api/user-api/payment/create-payment-link';
export const GET_PAYMENT_PATH = '/api/user-api/payment/get/';

const DEFAULT_CONNECTIONS = 64;
/** Upper bound of the connect phase alone; a connect timeout means nothing was sent. */
const MAX_CONNECT_TIMEOUT_MS = 10_000;
/** Bodies we read to explain a failure are cut here; we never need more. */
const MAX_MESSAGE_CHARS = 300;

/** Lenient where leniency cannot lose a link: an odd `message` must not hide a created one. */
const Envelope = z.object({
  success: z.boolean().default(true),
  message: z.string().nullish().catch(undefined),
  data: z.unknown().optional(),
});
/** The payment id and link of a created link, as Paywint must send them (also the rules for links imported into the ledger). */
export const CreatedLinkData = z.object({
  payment_id: z.guid(),
  payment_link: z.url({ protocol: /^https$/ }).refine((link) => link.startsWith('https://'), 'Invalid URL: expected https://...'),
});
/** Only the id is required: the other fields are undocumented in detail, and informative. */
const PaymentData = z.object({
  payment_id: z.guid(),
  amount: z.union([z.number(), z.string()]).nullish().catch(null),
  currency: z.string().nullish().catch(null),
  description: z.string().nullish().catch(null),
  status: z.string().nullish().catch(null),
  created_at: z.string().nullish().catch(null),
});
const ValidationDetail = z.object({
  detail: z.union([
    z.array(z.object({ loc: z.array(z.union([z.string(), z.number()])).default([]), msg: z.string() })),
    z.string(),
  ]),
});
const ErrorBody = z.object({ detail: z.string().optional(), message: z.string().optional() });

/** Transport error codes raised before any byte of the request left: nothing was sent. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
]);
/** Not sent, and sending again will not help until someone fixes the setup. */
const NOT_SENT_PERMANENT_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

interface Call {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** Whether the call may create something, so that a lost answer leaves the outcome unknown. */
  creates: boolean;
  signal: AbortSignal | undefined;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body text, or undefined when it was discarded unread. */
  text: string | undefined;
}

export class PaywintClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #pool: Pool;
  readonly #pathPrefix: string;
  /** Built once; private so that neither `util.inspect` nor `JSON.stringify` of the client shows the secret. */
  readonly #headers: Record<string, string>;
  #closing: Promise<void> | undefined;

  constructor(options: PaywintClientOptions) {
    const url = parseBaseUrl(options.baseUrl);
    requireHeaderValue('apiKey', options.apiKey, true);
    requireHeaderValue('apiSecret', options.apiSecret, false);
    if (!Number.isInteger(options.timeoutMs) || options.timeoutMs < 1) {
      throw invalidOption('timeoutMs', `expected a whole number of milliseconds above 0, got ${String(options.timeoutMs)}`);
    }
    const connections = options.connections ?? DEFAULT_CONNECTIONS;
    if (!Number.isInteger(connections) || connections < 1) {
      throw invalidOption('connections', `expected a whole number above 0, got ${String(options.connections)}`);
    }

    this.baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.timeoutMs = options.timeoutMs;
    this.#pathPrefix = url.pathname.replace(/\/+$/, '');
    this.#headers = {
      'X-Api-Key': options.apiKey,
      'X-Api-Secret': options.apiSecret,
      'Content-Type': 'application/json',
      Accept: 'application/json',
    };
    // Our own timer bounds the whole request; undici's timers are a backstop.
    this.#pool = new Pool(url.origin, {
      connections,
      pipelining: 1,
      connectTimeout: Math.min(options.timeoutMs, MAX_CONNECT_TIMEOUT_MS),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** `POST /api/user-api/payment/create-payment-link`. One attempt. Throws {@link PaywintError}. */
  async createPaymentLink(request: CreateLinkRequest, options: RequestOptions = {}): Promise<CreatedLink> {
    if (!Number.isSafeInteger(request.amountCents) || request.amountCents <= 0) {
      throw new PaywintError('PAYWINT_VALIDATION', `Not sent: the amount must be a positive whole number of cents, got ${String(request.amountCents)}`, {
        fieldErrors: ['body.amount: Input should be greater than 0'],
      });
    }
    // The amount is written as a JSON number literal straight from the cents: no float on the way.
    const body =
      `{"amount":${centsToJsonNumber(request.amountCents)},` +
      `"description":${JSON.stringify(request.description)},` +
      `"invoice_number":${JSON.stringify(request.invoiceNumber)}}`;
    const answer = await this.#send({ method: 'POST', path: CREATE_PAYMENT_LINK_PATH, body, creates: true, signal: options.signal });
    if (!isSuccess(answer.status)) throw statusError(answer, true);
    const envelope = parseEnvelope(answer, true);
    if (!envelope.success) throw protocolError(answer.status, 'success: false', envelope.message, false);
    if (envelope.data === null || envelope.data === undefined) {
      throw protocolError(answer.status, 'success: true but no data', envelope.message, true);
    }
    const data = CreatedLinkData.safeParse(envelope.data);
    if (!data.success) throw protocolError(answer.status, `a link that is not usable (${describeIssue(data.error)})`, envelope.message, true);
    return { paymentId: data.data.payment_id, paymentLink: data.data.payment_link };
  }

  /** `GET /api/user-api/payment/get/{payment_id}`. One attempt. Throws {@link PaywintError} (`PAYWINT_NOT_FOUND` for an unknown id). */
  async getPayment(paymentId: string, options: RequestOptions = {}): Promise<PaymentRecord> {
    const path = `${GET_PAYMENT_PATH}${encodeURIComponent(paymentId)}`;
    const answer = await this.#send({ method: 'GET', path, creates: false, signal: options.signal });
    if (!isSuccess(answer.status)) throw statusError(answer, false);
    const envelope = parseEnvelope(answer, false);
    const data = PaymentData.safeParse(envelope.data);
    if (!envelope.success || !data.success) {
      const what = !envelope.success ? 'success: false' : `a payment that is not usable (${data.success ? '' : describeIssue(data.error)})`;
      throw protocolError(answer.status, what, envelope.message, false);
    }
    const p = data.data;
    // A JSON number's shortest form is its decimal literal (150.75 -> "150.75"): no float arithmetic.
    const amount = p.amount === null || p.amount === undefined ? undefined : parseAmount(String(p.amount));
    return {
      paymentId: p.payment_id,
      amountCents: amount?.ok ? amount.cents : null,
      currency: p.currency ?? null,
      description: p.description ?? null,
      status: p.status ?? null,
      createdAt: p.created_at ?? null,
    };
  }

  /** Closes the connection pool once requests in flight end (each is bounded by `timeoutMs`). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }

  /**
   * Sends one request and reads (or discards) the whole answer, so that the
   * keep-alive socket goes back to the pool. Transport failures become
   * {@link PaywintError}; statuses are left to the caller.
   */
  async #send(call: Call): Promise<Answer> {
    if (call.signal?.aborted) {
      throw new PaywintError('PAYWINT_NETWORK', 'The request to Paywint was cancelled before it was sent', { retryable: true });
    }
    const controller = new AbortController();
    let stoppedBy: 'timeout' | 'caller' | undefined;
    const timer = setTimeout(() => {
      stoppedBy = 'timeout';
      controller.abort(new Error(`timed out after ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    const onCallerAbort = () => {
      stoppedBy ??= 'caller';
      controller.abort(new Error('cancelled by the caller'));
    };
    call.signal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      const response = await this.#pool.request({
        method: call.method,
        path: `${this.#pathPrefix}${call.path}`,
        headers: this.#headers,
        body: call.body,
        signal: controller.signal,
      });
      const status = response.statusCode;
      if (isSuccess(status) || READ_BODY_STATUSES.has(status)) {
        return { status, headers: response.headers, text: await response.body.text() };
      }
      // The status says it all; a failure while discarding the body changes nothing.
      await response.body.dump().catch(() => undefined);
      return { status, headers: response.headers, text: undefined };
    } catch (error) {
      throw transportError(error, stoppedBy, call.creates, this.timeoutMs, this.baseUrl);
    } finally {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onCallerAbort);
    }
  }
}

/** Statuses whose body explains the failure (validation details, Paywint's message). */
const READ_BODY_STATUSES = new Set([400, 404, 422]);

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * `Retry-After` as milliseconds to wait: delta-seconds (`"2"`, leniently
 * `"1.5"`) or an HTTP date. Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function statusError(answer: Answer, creates: boolean): PaywintError {
  const { status } = answer;
  const head = `Paywint answered ${status}${STATUS_CODES[status] === undefined ? '' : ` ${STATUS_CODES[status]}`}`;
  const details: PaywintErrorDetails = { status };
  const fail = (code: PaywintErrorCode, message: string, retryable: boolean, more: PaywintErrorDetails = {}) =>
    new PaywintError(code, message, { ...details, ...more, retryable });

  if (status === 401 || status === 403) return fail('PAYWINT_AUTH', `${head}: check PAYWINT_API_KEY and PAYWINT_API_SECRET`, false);
  if (status === 422) {
    const fieldErrors = validationMessages(answer.text);
    const why = fieldErrors.length > 0 ? fieldErrors.join('; ') : 'no details given';
    return fail('PAYWINT_VALIDATION', `Paywint rejected the request (422): ${why}`, false, { fieldErrors });
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after']);
    const wait = retryAfterMs === undefined ? 'without Retry-After' : `asking to wait ${retryAfterMs} ms`;
    return fail('PAYWINT_RATE_LIMITED', `${head}, ${wait}`, true, { retryAfterMs });
  }
  if (status === 400) return fail('PAYWINT_BAD_REQUEST', withMessage(head, errorBodyMessage(answer.text)), false);
  if (status === 404) return fail('PAYWINT_NOT_FOUND', withMessage(head, errorBodyMessage(answer.text)), false);
  if (status >= 500 && status <= 599) {
    // A gateway's 502/504 says nothing of what the application did; 500/503 come from it, failing.
    const gateway = creates && (status === 502 || status === 504);
    return fail('PAYWINT_SERVER_ERROR', gateway ? `${head}; the link may have been created` : head, true, {
      outcomeUnknown: gateway,
      retryAfterMs: parseRetryAfter(answer.headers['retry-after']),
    });
  }
  return fail('PAYWINT_UNEXPECTED_STATUS', head, status >= 500);
}

/** The 2xx envelope; a body that is not one leaves the outcome unknown when the call `creates`. */
function parseEnvelope(answer: Answer, creates: boolean): z.infer<typeof Envelope> {
  let json: unknown;
  try {
    json = JSON.parse(answer.text ?? '');
  } catch {
    throw protocolError(answer.status, 'a body that is not JSON', undefined, creates);
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) throw protocolError(answer.status, `a body of an unknown shape (${describeIssue(envelope.error)})`, undefined, creates);
  return envelope.data;
}

function protocolError(status: number, what: string, message: string | null | undefined, outcomeUnknown: boolean): PaywintError {
  const said = message ? ` (Paywint said: "${clip(message)}")` : '';
  const unknown = outcomeUnknown ? '; the link may have been created' : '';
  return new PaywintError('PAYWINT_PROTOCOL', `Paywint answered ${status} with ${what}${said}${unknown}`, { status, outcomeUnknown, retryable: false });
}

function validationMessages(text: string | undefined): string[] {
  const parsed = ValidationDetail.safeParse(safeJson(text));
  if (!parsed.success) return [];
  const { detail } = parsed.data;
  if (typeof detail === 'string') return [clip(detail)];
  return detail.map((d) => (d.loc.length > 0 ? `${d.loc.join('.')}: ${clip(d.msg)}` : clip(d.msg)));
}

function errorBodyMessage(text: string | undefined): string | undefined {
  const parsed = ErrorBody.safeParse(safeJson(text));
  return parsed.success ? (parsed.data.detail ?? parsed.data.message) : undefined;
}

function withMessage(head: string, message: string | undefined): string {
  return message ? `${head}: ${clip(message)}` : head;
}

function safeJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describeIssue(error: { issues: z.core.$ZodIssue[] }): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  return issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}

/** One line, no control characters, bounded: text from the wire goes into our messages. */
function clip(text: string): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS)}...` : line;
}

interface ErrorFacts {
  code: string | undefined;
  name: string;
  message: string;
}

/** The code of a transport error, looking through `cause` and `AggregateError` (happy eyeballs). */
function errorFacts(error: unknown): ErrorFacts {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR') return { code, name: current.name, message: current.message };
    current = current instanceof AggregateError && current.errors.length > 0 ? current.errors[0] : current.cause;
  }
  return error instanceof Error ? { code: undefined, name: error.name, message: error.message } : { code: undefined, name: 'Error', message: String(error) };
}

function transportError(error: unknown, stoppedBy: 'timeout' | 'caller' | undefined, creates: boolean, timeoutMs: number, baseUrl: string): PaywintError {
  const facts = errorFacts(error);
  // A plain copy: undici's errors carry sockets and more; nothing of the request may leak through `cause`.
  const cause = Object.assign(new Error(facts.message), { name: facts.name, code: facts.code });
  const maybe = creates ? '; the link may have been created' : '';
  if (stoppedBy === 'timeout' || (facts.code !== undefined && TIMEOUT_CODES.has(facts.code))) {
    return new PaywintError('PAYWINT_TIMEOUT', `Paywint did not answer within ${timeoutMs} ms${maybe}`, { retryable: true, outcomeUnknown: creates, cause });
  }
  const why = facts.code === undefined ? facts.message : `${facts.code}: ${facts.message}`;
  if (facts.code !== undefined && (NOT_SENT_CODES.has(facts.code) || NOT_SENT_PERMANENT_CODES.has(facts.code))) {
    return new PaywintError('PAYWINT_NETWORK', `Could not reach Paywint at ${baseUrl} (${why}); nothing was sent`, {
      retryable: !NOT_SENT_PERMANENT_CODES.has(facts.code),
      outcomeUnknown: false,
      cause,
    });
  }
  if (stoppedBy === 'caller') {
    return new PaywintError('PAYWINT_CONNECTION_LOST', `The request to Paywint was cancelled before an answer arrived${maybe}`, { retryable: true, outcomeUnknown: creates, cause });
  }
  // Anything else may have happened after the request was written: the safe side is "unknown".
  return new PaywintError('PAYWINT_CONNECTION_LOST', `The connection to Paywint was lost before an answer arrived (${why})${maybe}`, {
    retryable: true,
    outcomeUnknown: creates,
    cause,
  });
}

function invalidOption(name: keyof PaywintClientOptions, message: string): ConfigError {
  return new ConfigError('CONFIG_INVALID', name, `PaywintClient option ${name}: ${message}`);
}

function parseBaseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidOption('baseUrl', `expected an http(s) URL such as https://api.sandbox.paywint.com, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidOption('baseUrl', `expected an http(s) URL, got the scheme ${JSON.stringify(url.protocol)}`);
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw invalidOption('baseUrl', 'expected a URL without credentials, query or fragment');
  }
  return url;
}

/** Header values must be non-empty and free of control characters; the value itself is never echoed. */
function requireHeaderValue(name: 'apiKey' | 'apiSecret', value: string, show: boolean): void {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value === '' || /[\u0000-\u001f\u007f]/.test(value)) {
    const seen = typeof value !== 'string' ? typeof value : show ? JSON.stringify(value) : `a value of ${value.length} characters`;
    throw invalidOption(name, `expected a non-empty string without control characters, got ${seen}`);
  }
}
