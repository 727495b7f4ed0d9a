/**
 * The Paywint client: one HTTP attempt per call, every outcome mapped to a
 * created link or a {@link PaywintError} with a stable code (the mapping is
 * `outcomes.ts`; this module sends the requests and reads the bodies).
 *
 * Retries, backoff and rate limiting belong to the caller (the worker), so
 * that every request sent can be counted against one shared rate limit.
 */
import { Pool } from 'undici';
import { z } from 'zod';
import type { Readable } from 'node:stream';
import { paywintLinkHosts } from '../core/config.js';
import { ConfigError, PaywintError } from '../core/errors.js';
import { centsToJsonNumber } from '../core/money.js';
import { describeIssue, isSuccess, parseEnvelope, protocolError, readsBody, statusError, transportError, wrongBaseUrlError, type Answer } from './outcomes.js';
import { LIST_RECEIVED_PATH, listBody, paymentPath, readListAnswer, readPaymentAnswer, type PaywintPayment, type ReceivedPaymentsPage, type RowsPerPage } from './payments.js';

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
  /**
   * Hosts a payment link may be on (or a subdomain of them); a link anywhere
   * else is a protocol error. Default: from `baseUrl` (see `paywintLinkHosts`).
   */
  linkHosts?: readonly string[];
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

export interface RequestOptions {
  /** Cancels the request. A cancelled create is reported as outcome unknown once it may have been sent. */
  signal?: AbortSignal;
}

/** Options of the payment reads. */
export interface ReadOptions extends RequestOptions {
  /**
   * Awaited before the request is sent, e.g. to take a slot of the shared
   * rate limit, so that reads count against the same limit as link creation.
   * Default: none.
   */
  beforeRequest?: (signal: AbortSignal | undefined) => Promise<void>;
}

export const CREATE_PAYMENT_LINK_PATH = '/api/user-api/payment/create-payment-link';

const DEFAULT_CONNECTIONS = 64;
/** Upper bound of the connect phase alone; a connect timeout means nothing was sent. */
const MAX_CONNECT_TIMEOUT_MS = 10_000;
/** The largest answer body read (Paywint's are a few hundred bytes): a bigger one is a protocol error, read no further. */
export const MAX_BODY_BYTES = 1_048_576;

/** The payment id and link of a created link, as Paywint must send them (also the rules for links imported into the ledger). */
export const CreatedLinkData = z.object({
  payment_id: z.guid(),
  payment_link: z.url({ protocol: /^https$/ }).refine((link) => link.startsWith('https://'), 'Invalid URL: expected https://...'),
});
interface Call {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** Whether the call may create something, so that a lost answer leaves the outcome unknown. */
  creates: boolean;
  signal: AbortSignal | undefined;
}

export class PaywintClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #pool: Pool;
  readonly #pathPrefix: string;
  readonly #linkHosts: readonly string[];
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
    this.#linkHosts = options.linkHosts ?? paywintLinkHosts(this.baseUrl);
    if (this.#linkHosts.length === 0) throw invalidOption('linkHosts', 'expected at least one host');
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
    if (answer.status === 404 || (answer.status >= 300 && answer.status < 400)) throw wrongBaseUrlError(answer, this.baseUrl);
    if (!isSuccess(answer.status)) throw statusError(answer, true);
    const envelope = parseEnvelope(answer, true);
    if (!envelope.success) throw protocolError(answer.status, 'success: false', envelope.message, false);
    // Paywint's own message on a success ("Success") is not quoted on a failed row: it would contradict it.
    if (envelope.data === null || envelope.data === undefined) {
      throw protocolError(answer.status, 'success: true but no data', undefined, true);
    }
    const data = CreatedLinkData.safeParse(envelope.data);
    if (!data.success) throw protocolError(answer.status, `a link that is not usable (${describeIssue(data.error)})`, undefined, true);
    if (!isOnLinkHosts(data.data.payment_link, this.#linkHosts)) {
      // Never mailed: a link elsewhere could be anyone's. Paywint may still have made one, so the outcome is unknown.
      const host = URL.parse(data.data.payment_link)?.host.slice(0, 60) ?? '?';
      const what = `a link on ${host}, not on Paywint's hosts (${this.#linkHosts.join(', ')}; PAYWINT_LINK_HOSTS sets them)`;
      throw protocolError(answer.status, what, undefined, true);
    }
    return { paymentId: data.data.payment_id, paymentLink: data.data.payment_link };
  }

  /**
   * `GET /api/user-api/payment/get/{payment_id}`. One attempt. Null when
   * Paywint answers `data: null` (not known: never paid). Throws
   * {@link PaywintError} (`PAYWINT_PROTOCOL` for an amount finer than a cent).
   */
  async getPayment(paymentId: string, options: ReadOptions = {}): Promise<PaywintPayment | null> {
    await options.beforeRequest?.(options.signal);
    return readPaymentAnswer(await this.#send({ method: 'GET', path: paymentPath(paymentId), creates: false, signal: options.signal }));
  }

  /** `POST /api/user-api/payment/list/payment-received`: one page (from 1). One attempt. Throws {@link PaywintError}. */
  async listReceivedPayments(pageNo: number, rowsPerPage: RowsPerPage, options: ReadOptions = {}): Promise<ReceivedPaymentsPage> {
    const body = listBody(pageNo, rowsPerPage);
    await options.beforeRequest?.(options.signal);
    return readListAnswer(await this.#send({ method: 'POST', path: LIST_RECEIVED_PATH, body, creates: false, signal: options.signal }));
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
      if (isSuccess(status) || readsBody(status)) {
        return { status, headers: response.headers, text: await readCapped(response.body, status, call.creates) };
      }
      // The status says it all; a failure while discarding the body changes nothing.
      await response.body.dump().catch(() => undefined);
      return { status, headers: response.headers, text: undefined };
    } catch (error) {
      if (error instanceof PaywintError) throw error;
      throw transportError(error, stoppedBy, call.creates, this.timeoutMs, this.baseUrl);
    } finally {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onCallerAbort);
    }
  }
}

/**
 * The body as text, read no further than {@link MAX_BODY_BYTES}: beyond it
 * the connection is dropped and the answer is a protocol error (the outcome
 * unknown for a call that creates: the link may exist).
 */
async function readCapped(body: Readable, status: number, creates: boolean): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) {
      body.destroy();
      throw protocolError(status, `a body larger than ${MAX_BODY_BYTES} bytes (read no further)`, undefined, creates);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, bytes).toString('utf8');
}

/** Whether `link` is an https URL on one of `hosts` (or a subdomain), with no user name or password in it. */
export function isOnLinkHosts(link: string, hosts: readonly string[]): boolean {
  const url = URL.parse(link);
  if (url === null || url.protocol !== 'https:' || url.username !== '' || url.password !== '') return false;
  const host = url.hostname.toLowerCase();
  return hosts.some((h) => host === h || host.endsWith(`.${h}`));
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
