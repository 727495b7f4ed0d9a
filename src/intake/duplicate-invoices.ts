/**
 * The duplicate-invoice check. A row whose invoice number appeared on an
 * earlier row, valid or not, is a duplicate and is not sent; the first one
 * is. Numbers compare by {@link invoiceKey} (trimmed, NFC, case ignored:
 * `INV-7`, ` INV-7 ` and `inv-7` are one invoice); each row keeps its number
 * as written. Only the keys seen so far are kept, never the rows.
 */
import { invoiceKey } from '../core/invoice-key.js';

/**
 * Each invoice number's first line in a file, by {@link invoiceKey}. A second read of the same file
 * (the producer stores what it checked) takes the first read's map as it is
 * instead of building its own: one set of invoice numbers in memory, not two.
 */
export type FirstLines = Map<string, number>;

/**
 * Notes that `invoiceNumber` is on `line`. `firstLine` maps each invoice
 * number seen so far (or, on a second read of the file, every one of the
 * file) to the line of its first row; it is updated. Returns the line of an
 * earlier row with the same invoice number, if there is one.
 */
export function earlierLineOf(firstLine: FirstLines, invoiceNumber: string, line: number): number | undefined {
  const key = invoiceKey(invoiceNumber);
  const first = firstLine.get(key);
  if (first === undefined) firstLine.set(key, line);
  return first === undefined || first === line ? undefined : first;
}

/** What a duplicate row is told. */
export function duplicateMessage(earlier: number): string {
  return `the same invoice number is already on line ${earlier}; this row will not be sent`;
}
