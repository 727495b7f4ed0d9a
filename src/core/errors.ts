/**
 * Typed errors with stable codes.
 *
 * Every failure paylinks reports, whether it stops a command or only marks one
 * row, carries a `code` from {@link ErrorCode}. Codes appear verbatim in the
 * output CSV (`error_code`), in `validate --json` and in the logs, so they are
 * part of the public interface: add new ones, never rename old ones.
 */

/** Problems with one input row: the row is reported and not sent. */
export const ROW_ERROR_CODES = [
  'MISSING_INVOICE_NUMBER',
  'INVOICE_NUMBER_TOO_LONG',
  'MISSING_AMOUNT',
  'INVALID_AMOUNT',
  'AMOUNT_NOT_POSITIVE',
  'AMOUNT_TOO_PRECISE',
  'AMOUNT_TOO_LARGE',
  'DESCRIPTION_TOO_LONG',
  'DUPLICATE_INVOICE',
  /** A totals line (`Total`, `Subtotal`, `Grand total`, `Sum`) where an invoice number belongs. */
  'SUMMARY_ROW',
  /** The header line again, below the header (a page-break or concatenated export). */
  'HEADER_ROW',
  /** More values than the header has columns: a value was split by an unquoted delimiter. */
  'TOO_MANY_FIELDS',
  /** An amount like `1,234` in a file whose amounts never say which is the decimal mark. */
  'AMBIGUOUS_AMOUNT',
  /** A workbook cell holding an error value (`#N/A`) or a formula with no saved result. */
  'CELL_ERROR',
  /** A workbook row hidden in the sheet, by hand or by a filter. */
  'ROW_HIDDEN',
  /** An invoice number in scientific notation (`1.23E+11`): a spreadsheet wrote a number as displayed, and its digits are lost. */
  'INVOICE_NUMBER_SCIENTIFIC',
  /** An invoice number like `123.0`: a spreadsheet turned it into a decimal number. */
  'INVOICE_NUMBER_DECIMAL',
  /** The row's currency column names a currency other than US dollars: Paywint charges USD. */
  'CURRENCY_NOT_USD',
] as const;

/** Problems with a whole input file: nothing from it is sent. */
export const FILE_ERROR_CODES = [
  'FILE_NOT_FOUND',
  'FILE_UNREADABLE',
  'FILE_EMPTY',
  'FILE_NO_ROWS',
  'FILE_MISSING_COLUMN',
  'FILE_UNTERMINATED_QUOTE',
  'FILE_UNDECODABLE',
  'FILE_MALFORMED',
  /** `--sheet` names a sheet the workbook does not have. */
  'FILE_MISSING_SHEET',
  /** Beyond what paylinks reads: a cell longer than 32,767 characters, too many shared strings, a workbook too large once unzipped. */
  'FILE_TOO_LARGE',
] as const;

/** Outcomes of a call to Paywint that did not produce a link. */
export const PAYWINT_ERROR_CODES = [
  /** Connection refused, reset before the request was sent, DNS failure. */
  'PAYWINT_NETWORK',
  /** No answer within the timeout: Paywint may have created the link. */
  'PAYWINT_TIMEOUT',
  /** The connection was cut after the request was sent: Paywint may have created the link. */
  'PAYWINT_CONNECTION_LOST',
  'PAYWINT_SERVER_ERROR',
  'PAYWINT_RATE_LIMITED',
  'PAYWINT_BAD_REQUEST',
  'PAYWINT_AUTH',
  'PAYWINT_NOT_FOUND',
  'PAYWINT_VALIDATION',
  'PAYWINT_UNEXPECTED_STATUS',
  /** A 404 or a redirect on the create endpoint: PAYWINT_BASE_URL is not Paywint's API (nothing was created). */
  'PAYWINT_WRONG_BASE_URL',
  /** A 200 whose body is not a success with a payment id and an https link. */
  'PAYWINT_PROTOCOL',
] as const;

/** Problems with one row of a ledger import (`paylinks ledger import`), besides the row codes above. */
export const LEDGER_IMPORT_ERROR_CODES = [
  'MISSING_PAYMENT_ID',
  /** Not a UUID, as Paywint's payment ids are. */
  'INVALID_PAYMENT_ID',
  'MISSING_PAYMENT_LINK',
  /** Not an https URL, as Paywint's links are. */
  'INVALID_PAYMENT_LINK',
  /** Not an ISO 8601 date or timestamp. */
  'INVALID_CREATED_AT',
  /** A batch cell longer than 64 characters. */
  'BATCH_TOO_LONG',
  /** A batch is sending a request for the invoice right now: import it once that batch has finished. */
  'INVOICE_IN_PROGRESS',
] as const;

/** Everything else: configuration, Redis, the pipeline. */
export const OTHER_ERROR_CODES = [
  'CONFIG_INVALID',
  'CONFIG_MISSING',
  'REDIS_UNAVAILABLE',
  'BATCH_NOT_FOUND',
  /** No link in the ledger for that invoice number (`GET /api/invoices/{invoiceNumber}`). */
  'INVOICE_NOT_FOUND',
  'BATCH_STOPPED_AUTH',
  /** Paywint's create endpoint is not at PAYWINT_BASE_URL (a 404 or a redirect): the batch stopped. */
  'BATCH_STOPPED_BASE_URL',
  'BATCH_CANCELLED',
  /** The batch's rows and results were removed, PAYLINKS_RETENTION_DAYS after it finished (its links stay in the ledger). */
  'BATCH_EXPIRED',
  /** The batch was submitted for another Paywint account than the worker's. */
  'ACCOUNT_MISMATCH',
  'LEDGER_CONFLICT',
  /** A created row whose earlier request got no answer after being sent: look for a second link. */
  'POSSIBLE_DUPLICATE_LINK',
  /**
   * A failed row whose invoice's requests went unanswered PAYLINKS_UNKNOWN_OUTCOME_RETRIES + 1 times: Paywint
   * may hold a link for it. Not sent again by a re-run or `retry`, only by `retry --include-unknown`.
   */
  'UNKNOWN_OUTCOME',
  /** Collected before the batch finished: the row has no result yet. */
  'NOT_FINISHED',
  'INTERRUPTED',
  /** The drop folder cannot be made, listed or written (see src/inbox/). */
  'INBOX_UNAVAILABLE',
  /** A webhook answered with a non-2xx status, or not within the timeout: the delivery is retried. */
  'NOTIFY_WEBHOOK_FAILED',
  /** The mail server refused or could not be reached: the e-mail is retried. */
  'NOTIFY_EMAIL_FAILED',
  /** `paylinks send`, `--send`: the batch's file has no e-mail address column, so there is no one to send to. */
  'MAIL_NO_ADDRESS_COLUMN',
  /** A notification kept failing for the whole retry window: given up. */
  'NOTIFY_GAVE_UP',
  'INTERNAL',
  /** The batch has not finished yet: its output cannot be downloaded. */
  'BATCH_NOT_FINISHED',
  /** Release or discard of a batch that is not held (or no longer). */
  'BATCH_NOT_HELD',
  /** `paylinks serve`: no valid API token in the request. */
  'UNAUTHORIZED',
  /** `paylinks serve`: too many failed sign-ins from one address; wait and try again. */
  'TOO_MANY_SIGN_INS',
  /** `paylinks serve`: too many event streams open at once; close a page or try again shortly. */
  'TOO_MANY_STREAMS',
  /** `paylinks serve`: an upload over `PAYLINKS_MAX_UPLOAD_MB`. */
  'PAYLOAD_TOO_LARGE',
  /** `paylinks serve`: an upload that is not a text file of invoices (a content type or file kind paylinks does not read). */
  'UNSUPPORTED_FILE',
  /** `paylinks serve`: a request whose parameters, query or body do not fit the route. */
  'BAD_REQUEST',
  /** `paylinks serve`: no such route. */
  'NOT_FOUND',
  /** `paylinks serve`: the server began to stop (SIGTERM) while it read an upload; send it again once it is back. */
  'SERVER_STOPPING',
] as const;

export type RowErrorCode = (typeof ROW_ERROR_CODES)[number];
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];
export type PaywintErrorCode = (typeof PAYWINT_ERROR_CODES)[number];
export type LedgerImportErrorCode = (typeof LEDGER_IMPORT_ERROR_CODES)[number];
export type ErrorCode = RowErrorCode | FileErrorCode | PaywintErrorCode | LedgerImportErrorCode | (typeof OTHER_ERROR_CODES)[number];

/** The flag on a row whose invoice may hold a second link at Paywint. */
export const POSSIBLE_DUPLICATE_CODE = 'POSSIBLE_DUPLICATE_LINK' satisfies ErrorCode;

/** The code of a row left unsent because its invoice's requests went unanswered too often (a link may exist). */
export const UNKNOWN_OUTCOME_CODE = 'UNKNOWN_OUTCOME' satisfies ErrorCode;

export interface PaylinksErrorOptions {
  /** Whether trying the same thing again may succeed. Default false. */
  retryable?: boolean;
  cause?: unknown;
}

/** Base of every error paylinks throws on purpose. */
export class PaylinksError extends Error {
  override readonly name: string = 'PaylinksError';
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: PaylinksErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A configuration value is missing or malformed. Names the variable or flag. */
export class ConfigError extends PaylinksError {
  override readonly name = 'ConfigError';
  /** The environment variable or flag at fault. */
  readonly variable: string;

  constructor(code: 'CONFIG_INVALID' | 'CONFIG_MISSING', variable: string, message: string) {
    super(code, message);
    this.variable = variable;
  }
}

/**
 * What the reader found in a file it could not use: the header line it took
 * for the header, the delimiter, the workbook's sheets. A person can then say
 * how to read the file (the page offers these as choices). Values are capped.
 */
export interface FileFound {
  /** The cells of the line most likely to be the header. */
  headers?: string[];
  /** That line's number. */
  headerLine?: number;
  /** The delimiter used (a CSV file). */
  delimiter?: string;
  /** The workbook's sheets, in tab order. */
  sheets?: string[];
  /** The sheet read. */
  sheet?: string;
}

/** The input file as a whole cannot be used. `line` is 1-based; the header is line 1. */
export class InputFileError extends PaylinksError {
  override readonly name = 'InputFileError';
  readonly file: string;
  readonly line: number | undefined;
  /** What the reader found, when it got as far as the header (see {@link FileFound}). */
  found: FileFound | undefined;

  constructor(code: FileErrorCode, file: string, message: string, line?: number, cause?: unknown) {
    super(code, line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`, { cause });
    this.file = file;
    this.line = line;
  }
}

export interface PaywintErrorDetails {
  /** HTTP status, when an answer arrived. */
  status?: number;
  /** How long Paywint asked us to wait (429 `Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  /**
   * True when the request may have reached Paywint and created a link although
   * no answer says so (timed out, or the connection was cut after sending).
   */
  outcomeUnknown?: boolean;
  /** Field messages from a 422 `detail`. */
  fieldErrors?: string[];
}

/** A call to Paywint that did not produce a link. */
export class PaywintError extends PaylinksError {
  override readonly name = 'PaywintError';
  declare readonly code: PaywintErrorCode;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly outcomeUnknown: boolean;
  readonly fieldErrors: string[];

  constructor(code: PaywintErrorCode, message: string, details: PaywintErrorDetails & PaylinksErrorOptions = {}) {
    super(code, message, details);
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.outcomeUnknown = details.outcomeUnknown ?? false;
    this.fieldErrors = details.fieldErrors ?? [];
  }
}

/** Redis cannot be reached or started. The message says how to get one. */
export class RedisUnavailableError extends PaylinksError {
  override readonly name = 'RedisUnavailableError';
  constructor(message: string, cause?: unknown) {
    super('REDIS_UNAVAILABLE', message, { cause, retryable: true });
  }
}

/** Turns anything caught into a {@link PaylinksError}, keeping the original as `cause`. */
export function coerceError(value: unknown): PaylinksError {
  if (value instanceof PaylinksError) return value;
  if (value instanceof Error) return new PaylinksError('INTERNAL', value.message, { cause: value });
  return new PaylinksError('INTERNAL', typeof value === 'string' ? value : JSON.stringify(value) ?? String(value));
}
