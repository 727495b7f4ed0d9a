/**
 * The duplicate-invoice check. A row whose invoice number (trimmed, compared
 * exactly, so `inv-1` and `INV-1` differ, as they do for Paywint) appeared on
 * an earlier row, valid or not, is a duplicate and is not sent; the first one
 * is. Only the invoice numbers seen so far are kept, never the rows.
 */

/**
 * Notes that `invoiceNumber` is on `line`. `firstLine` maps each invoice
 * number seen so far to the line of its first row; it is updated. Returns the
 * line of an earlier row with the same invoice number, if there is one.
 */
export function earlierLineOf(firstLine: Map<string, number>, invoiceNumber: string, line: number): number | undefined {
  const earlier = firstLine.get(invoiceNumber);
  if (earlier === undefined) firstLine.set(invoiceNumber, line);
  return earlier;
}

/** What a duplicate row is told. */
export function duplicateMessage(earlier: number): string {
  return `the same invoice number is already on line ${earlier}; this row will not be sent`;
}
