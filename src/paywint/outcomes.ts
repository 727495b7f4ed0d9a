/**
 * What each outcome of a request to Paywint means: an answer's status and
 * body, or a transport failure, classified into a {@link PaywintError} with a
 * stable code, whether a retry can help, and whether a link may exist.
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
import { z } from 'zod';
import { PaywintError, type PaywintErrorCode, type PaywintErrorDetails } from '../core/errors.js';

/** Bodies we read to explain a failure are cut here; we never need more. */
const MAX_MESSAGE_CHARS = 300;

/** Lenient where leniency cannot lose a link: an odd `message` must not hide a created one. */
const Envelope = z.object({
  success: z.boolean().default(true),
  message: z.string().nullish().catch(undefined),
  data: z.unknown().optional(),
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

/** One answer as the client read it. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body text, or undefined when it was discarded unread. */
  text: string | undefined;
}

/** Statuses whose body explains the failure (validation details, Paywint's message). */
const READ_BODY_STATUSES = new Set([400, 404, 422]);

/** Whether the client reads the body of an answer with this failure status (else it discards it). */
export function readsBody(status: number): boolean {
  return READ_BODY_STATUSES.has(status);
}

export function isSuccess(status: number): boolean {
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

/** A failure status (not 2xx) as a typed error; `creates` for a call that may create a link. */
export function statusError(answer: Answer, creates: boolean): PaywintError {
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

/**
 * A 404 or a redirect from the create endpoint: the request did not reach
 * Paywint's API (nothing was created), and no row will fare better, so the
 * batch stops, as on a 401. The message says what to check.
 */
export function wrongBaseUrlError(answer: Answer, baseUrl: string): PaywintError {
  const { status } = answer;
  const head = `Paywint answered ${status}${STATUS_CODES[status] === undefined ? '' : ` ${STATUS_CODES[status]}`} to the create request`;
  const location = answer.headers.location;
  const target = typeof location === 'string' ? clip(location).slice(0, 80) : undefined;
  const toHttps = target !== undefined && baseUrl.startsWith('http://') && target.startsWith('https://');
  const why =
    status === 404
      ? `there is no create endpoint under PAYWINT_BASE_URL ${baseUrl}`
      : `PAYWINT_BASE_URL ${baseUrl} redirects${target === undefined ? '' : ` to ${target}`}, and a create request is never followed to another address`;
  const hint = toHttps
    ? ': use https:// in PAYWINT_BASE_URL, not http://'
    : `: check PAYWINT_BASE_URL (https://api.sandbox.paywint.com or https://api.paywint.com; https, not http; no path after the host)`;
  return new PaywintError('PAYWINT_WRONG_BASE_URL', `${head}: ${why}${hint}`, { status, retryable: false, outcomeUnknown: false });
}

/** The 2xx envelope; a body that is not one leaves the outcome unknown when the call `creates`. */
export function parseEnvelope(answer: Answer, creates: boolean): z.infer<typeof Envelope> {
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

/** A 2xx that is not the answer the contract promises. */
export function protocolError(status: number, what: string, message: string | null | undefined, outcomeUnknown: boolean): PaywintError {
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

/** The first zod issue in one line, for a message. */
export function describeIssue(error: { issues: z.core.$ZodIssue[] }): string {
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

/** A failure before an answer arrived, classified by whether the request may have been sent. */
export function transportError(error: unknown, stoppedBy: 'timeout' | 'caller' | undefined, creates: boolean, timeoutMs: number, baseUrl: string): PaywintError {
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
