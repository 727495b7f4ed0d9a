/**
 * The row checks: one data record against the Paywint contract, giving a
 * valid record (invoice number, amount in cents, description) or the reason
 * it will not be sent.
 *
 * - A row has one error code: the first problem in the order invoice number
 *   (missing, too long, duplicate) → amount → description.
 * - Cells: every cell of the record as decoded (not trimmed). A record shorter
 *   than the header is padded with `''`; cells beyond the header's width are
 *   kept (so `cells.length` may exceed `layout.headers.length`).
 */
import type { ColumnLayout } from './columns.js';
import type { RowErrorCode } from '../core/errors.js';
import { duplicateMessage, earlierLineOf } from './duplicate-invoices.js';
import { parseAmount, plainAmountCents } from './money.js';
import type { RawRecord } from './record-reader.js';

/** Paywint's limit on `invoice_number`, in characters. */
export const MAX_INVOICE_NUMBER_LENGTH = 20;
/** Paywint's limit on `description`, in characters. */
export const MAX_DESCRIPTION_LENGTH = 255;

export type IntakeRecord =
  | {
      index: number;
      line: number;
      cells: string[];
      status: 'valid';
      invoiceNumber: string;
      amountCents: number;
      description: string | null;
    }
  | {
      index: number;
      line: number;
      cells: string[];
      status: 'invalid' | 'duplicate';
      invoiceNumber: string;
      code: RowErrorCode;
      message: string;
    };

/**
 * Checks one data record against the Paywint contract. `firstLine` maps each
 * invoice number seen so far to the line of its first row; it is updated.
 * Pads `raw.cells` with `''` to the header's width.
 */
export function checkRecord(raw: RawRecord, index: number, layout: ColumnLayout, firstLine: Map<string, number>): IntakeRecord {
  const { line, cells } = raw;
  for (let i = cells.length; i < layout.headers.length; i++) cells.push('');

  const invoiceNumber = cells[layout.invoice]!.trim();
  if (invoiceNumber === '') return problem(index, line, cells, invoiceNumber, 'MISSING_INVOICE_NUMBER', 'the invoice number is empty');
  // Noted before the length check: a too-long number makes its repeats duplicates too.
  const earlier = earlierLineOf(firstLine, invoiceNumber, line);
  const invoiceLength = characters(invoiceNumber, MAX_INVOICE_NUMBER_LENGTH);
  if (invoiceLength > MAX_INVOICE_NUMBER_LENGTH) {
    return problem(index, line, cells, invoiceNumber, 'INVOICE_NUMBER_TOO_LONG', `the invoice number is ${invoiceLength} characters long; Paywint accepts at most ${MAX_INVOICE_NUMBER_LENGTH}`);
  }
  if (earlier !== undefined) return problem(index, line, cells, invoiceNumber, 'DUPLICATE_INVOICE', duplicateMessage(earlier));

  const amountText = cells[layout.amount]!;
  let amountCents = plainAmountCents(amountText);
  if (amountCents === -1) {
    const amount = parseAmount(amountText);
    if (!amount.ok) return problem(index, line, cells, invoiceNumber, amount.code, amount.message);
    amountCents = amount.cents;
  }

  let description: string | null = null;
  if (layout.description !== null) {
    description = cells[layout.description]!.trim();
    if (description === '') description = null;
    else {
      const length = characters(description, MAX_DESCRIPTION_LENGTH);
      if (length > MAX_DESCRIPTION_LENGTH) {
        return problem(index, line, cells, invoiceNumber, 'DESCRIPTION_TOO_LONG', `the description is ${length} characters long; Paywint accepts at most ${MAX_DESCRIPTION_LENGTH}`);
      }
    }
  }
  return { index, line, cells, status: 'valid', invoiceNumber, amountCents, description };
}

/** An invalid or duplicate record. (A function, not a closure in checkRecord: that would cost an allocation per row.) */
function problem(index: number, line: number, cells: string[], invoiceNumber: string, code: RowErrorCode, message: string): IntakeRecord {
  return { index, line, cells, status: code === 'DUPLICATE_INVOICE' ? 'duplicate' : 'invalid', invoiceNumber, code, message };
}

/** The length in characters (code points), as Paywint counts it; exact only when above `limit`'s UTF-16 length. */
function characters(text: string, limit: number): number {
  return text.length <= limit ? text.length : [...text].length;
}
