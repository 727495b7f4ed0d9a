/**
 * The duplicate-invoice check. A row whose invoice number (trimmed, compared
 * exactly, so `inv-1` and `INV-1` differ, as they do for Paywint) appeared on
 * an earlier row, valid or not, is a duplicate and is not sent; the first one
 * is. Only the invoice numbers seen so far are kept, never the rows.
 */

/**
 * Each invoice number's first line in a file. A second read of the same file
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
  const first = firstLine.get(invoiceNumber);
  if (first === undefined) firstLine.set(invoiceNumber, line);
  return first === undefined || first === line ? undefined : first;
}

/** What a duplicate row is told. */
export function duplicateMessage(earlier: number): string {
  return `the same invoice number is already on line ${earlier}; this row will not be sent`;
}
