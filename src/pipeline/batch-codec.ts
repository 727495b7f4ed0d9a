/**
 * How a batch's rows and results are stored (see compact.ts): fixed fields in
 * a fixed order, ids as ids, no field names. The Lua scripts read them with
 * the `fields` include (scripts/includes/fields.ts).
 */
import { joinFields, packId, packLink, splitFields, unpackId, unpackLink } from './compact.js';
import type { RowResult, RowStatus } from './output.js';

/** Ends the head of a result that may have a link at Paywint ({@link RowResult.maybeLinked}). */
const MAYBE_LINKED_MARK = '?';

const STATUS_CODES: Record<RowStatus, string> = { created: 'c', exists: 'e', invalid: 'i', duplicate: 'd', conflict: 'x', failed: 'f' };
const STATUS_BY_CODE = new Map(Object.entries(STATUS_CODES).map(([status, code]) => [code, status as RowStatus]));

/**
 * Lua include: where the fields of a stored result are (see
 * {@link encodeResult}), for the scripts that read or amend one.
 */
export const RESULT_FIELDS_LUA = `
local RESULT_PAYMENT_ID, RESULT_ERROR_CODE, RESULT_ERROR_MESSAGE, RESULT_FIELD_COUNT = 2, 4, 5, 5
local function resultMaybeLinked(head) return string.sub(head, -1) == '${MAYBE_LINKED_MARK}' end
`;

/**
 * A row's result as stored: status letter and attempts (then `?` when it may
 * have a link at Paywint), payment id, link,
 * error code, error message; empty fields at the end left out. A created
 * row takes about 28 bytes (a UUID id and a Paywint link), against about 190
 * as JSON.
 */
export function encodeResult(r: RowResult): string {
  const id = r.paymentId ? packId(r.paymentId) : '';
  const link = r.paymentLink ? (r.paymentId ? packLink(r.paymentLink, r.paymentId) : `=${r.paymentLink}`) : '';
  const fields = [`${STATUS_CODES[r.status]}${r.attempts}${r.maybeLinked ? MAYBE_LINKED_MARK : ''}`, id, link, r.errorCode ?? '', r.errorMessage ?? ''];
  while (fields.length > 1 && fields.at(-1) === '') fields.pop();
  return joinFields(fields);
}

export function decodeResult(raw: string): RowResult {
  const [head = '', id = '', link = '', code = '', message = ''] = splitFields(raw);
  const status = STATUS_BY_CODE.get(head.charAt(0));
  if (!status) throw new Error(`not a stored result: ${JSON.stringify(raw.slice(0, 80))}`);
  const paymentId = id === '' ? null : unpackId(id);
  const maybeLinked = head.endsWith(MAYBE_LINKED_MARK);
  const result: RowResult = {
    status,
    paymentId,
    paymentLink: link === '' ? null : unpackLink(link, paymentId ?? ''),
    errorCode: code === '' ? null : code,
    errorMessage: message === '' ? null : message,
    attempts: Number(head.slice(1, maybeLinked ? -1 : undefined)),
  };
  if (maybeLinked) result.maybeLinked = true;
  return result;
}

/**
 * An input record as stored: its line (left empty when it is the usual one,
 * the row's index + 2: the header is line 1), then its cells.
 */
export function encodeRecord(row: number, line: number, cells: readonly string[]): string {
  return joinFields([line === row + 2 ? '' : String(line), ...cells]);
}

export function decodeRecord(row: number, raw: string): { line: number; cells: string[] } {
  const [line = '', ...cells] = splitFields(raw);
  return { line: line === '' ? row + 2 : Number(line), cells };
}

