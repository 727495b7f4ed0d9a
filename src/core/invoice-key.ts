/**
 * How invoice numbers compare: the one rule for "is this the same invoice?",
 * used for duplicates within a file (intake) and, through the ledger, across
 * runs.
 *
 * Decision (issue 20, item 2): a person reads ` INV-7 `, `INV-7` and `inv-7`
 * as one invoice, so they are one. The key is the invoice number
 *
 * 1. trimmed of surrounding white space (JavaScript's `trim`: spaces, tabs,
 *    no-break spaces, line breaks; the space inside is kept, `INV 7` and
 *    `INV7` stay two invoices),
 * 2. in Unicode normal form C, so `é` typed as one code point or as `e` and a
 *    combining accent is the same letter (what a person sees is the same),
 * 3. upper-cased by Unicode's default, locale-independent case mapping
 *    (`String.prototype.toUpperCase`: `inv-7` → `INV-7`, `ß` → `SS`, the
 *    Turkish dotless `ı` → `I`), so case never makes a second invoice.
 *
 * Not folded: compatibility forms (full-width `ＩＮＶ` stays apart from
 * `INV`, as NFKC would join them), punctuation and inner spaces. Each of those
 * can be a real difference in an invoice numbering scheme; case never is.
 *
 * The key is for comparing only: the number sent to Paywint, written to the
 * output and shown in messages is always the number as the file wrote it
 * (trimmed). The key is stored by the ledger: changing this function changes
 * which invoices a ledger recognises, so it never changes silently.
 */

/** The key under which `invoiceNumber` is compared with others (see the module's notes). */
export function invoiceKey(invoiceNumber: string): string {
  return invoiceNumber.trim().normalize('NFC').toUpperCase();
}

/** Whether `a` and `b` are the same invoice: equal {@link invoiceKey}s. */
export function sameInvoice(a: string, b: string): boolean {
  return invoiceKey(a) === invoiceKey(b);
}
