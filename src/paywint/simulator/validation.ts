/**
 * Request validation as Paywint's FastAPI/pydantic server does it: every
 * problem is reported as a pydantic v2 error item, and the endpoint answers
 * 422 `{"detail": [...]}`.
 *
 * Amounts must be JSON numbers: pydantic's lax mode would also take numeric
 * strings, the contract says number, and paylinks must send numbers.
 */
import type { NewLink } from './ledger.js';

/** A pydantic v2 validation error item, as FastAPI puts them in `detail`. */
export interface ValidationItem {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/** A valid list request's paging. */
export interface ListPage {
  rowsPerPage: number;
  pageNo: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates a create body as the contract does; every problem is reported, as pydantic does. */
export function validateCreate(contentType: string | undefined, body: string): NewLink | ValidationItem[] {
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

/** Validates a list body (`rows_per_page` 10, 20, 50 or 100; `page_no` from 1). */
export function validateList(contentType: string | undefined, body: string): ListPage | ValidationItem[] {
  const parsed = parseJsonBody(contentType, body);
  if (Array.isArray(parsed)) return parsed;
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
  if (errors.length > 0 || typeof rows !== 'number' || typeof page !== 'number') return errors;
  return { rowsPerPage: rows, pageNo: page };
}

/** The 422 item for a payment id in the path that is not a UUID; undefined for a UUID. */
export function checkPaymentId(id: string): ValidationItem | undefined {
  if (UUID.test(id)) return undefined;
  return { type: 'uuid_parsing', loc: ['path', 'payment_id'], msg: 'Input should be a valid UUID, invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-]', input: id };
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
