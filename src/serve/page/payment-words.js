// Payment statuses and exceptions in the words of the people who chase payments, not of the API.

import { money } from './ui.js';

/** A payment status as a short label (a table cell, a badge). */
export const STATUS_LABELS = {
  unpaid: 'Not paid',
  opened: 'Opened, not paid',
  processing: 'Payment under way',
  paid: 'Paid',
  failed: 'Payment failed',
  rejected: 'Rejected',
  expired: 'Expired',
};

/** What a status means for the person chasing the invoice. */
export const STATUS_MEANINGS = {
  unpaid: 'Nobody has paid it yet.',
  opened: 'The customer opened the link but has not paid.',
  processing: 'A payment is under way; it is not confirmed yet.',
  paid: 'Paywint confirmed the payment.',
  failed: 'A payment was tried and failed. The customer can try again with the same link.',
  rejected: 'Paywint rejected the payment.',
  expired: 'The link expired: it can no longer be paid.',
};

/** Why a row of the file has no link (its output status), for the rows table. */
export const NO_LINK_REASONS = {
  invalid: 'No link: the row is invalid',
  duplicate: 'No link: the invoice is twice in the file',
  conflict: 'No link: a link exists for another amount',
  failed: 'No link: creating it failed',
};

/** A row's exception code as a short tag. */
export const EXCEPTION_TAGS = {
  'double-payment': 'Paid twice',
  'amount-mismatch': 'Paid another amount',
  stray: 'Unknown payment',
  contradiction: 'Paywint changed its answer',
  'paid-after-expiry': 'Paid after expiry',
  'event-contradicted': 'Unconfirmed notice',
  'unknown-status': 'Unknown status',
};

const cents = (decimal) => BigInt(String(decimal).replace('.', ''));
const fromCents = (c) => {
  const text = c.toString().padStart(3, '0');
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
};
const invoice = (e) => e.invoiceNumber || e.invoice_number || null;
const amountOf = (e) => (e.amount ? money(e.amount) : null);

/**
 * An exception (report.json's `exceptions`, or an invoice's) as a title and a
 * sentence saying what happened and what to do.
 */
export function exceptionWords(e, invoiceAmount = null) {
  const inv = invoice(e);
  const amount = amountOf(e);
  const likely = e.likelyInvoices || e.likely_invoices || [];
  switch (e.kind) {
    case 'double-payment':
      return {
        title: `Invoice ${inv} was paid twice`,
        text: `The customer paid it on two different payment links${amount ? ` (${amount} each)` : ''}. Refund one of the two payments.`,
      };
    case 'amount-mismatch': {
      const title = `Invoice ${inv} was paid a different amount`;
      if (!invoiceAmount || !e.amount) {
        return { title, text: `Paywint received ${amount ?? 'an amount'}, which is not the amount of the invoice. Ask the customer for the difference, or refund what was paid too much.` };
      }
      const diff = cents(e.amount) - cents(invoiceAmount);
      const gap = money(fromCents(diff < 0n ? -diff : diff));
      return {
        title,
        text:
          diff < 0n
            ? `Paywint received ${amount} for an invoice of ${money(invoiceAmount)}: ${gap} short. Ask the customer for the difference.`
            : `Paywint received ${amount} for an invoice of ${money(invoiceAmount)}: ${gap} too much. Refund the difference.`,
      };
    }
    case 'stray':
      return {
        title: `A payment${amount ? ` of ${amount}` : ''} came in on a link paylinks did not make`,
        text:
          likely.length === 1
            ? `It is most likely for invoice ${likely[0]} (same amount and description). That link may have been made twice, for example when Paywint did not answer in time. Check it, and refund it if the invoice was paid as well.`
            : likely.length > 1
              ? `It could be for invoice ${likely.join(', ')} (same amount and description). Find out which one, and refund it if that invoice was paid as well.`
              : 'No invoice matches its amount and description. It may be a link made by hand in Paywint. Find out who paid it.',
      };
    case 'contradiction':
      return {
        title: `Paywint changed its answer about invoice ${inv}`,
        text: 'Paywint confirmed one status and later reported another that contradicts it. paylinks keeps a confirmed payment counted as paid. Check the payment in Paywint.',
      };
    case 'paid-after-expiry':
      return {
        title: `Invoice ${inv} was paid after its link expired`,
        text: `The customer paid${amount ? ` ${amount}` : ''} on a link that had expired or been rejected. It now counts as paid; make sure it was not paid another way too.`,
      };
    case 'event-contradicted':
      return {
        title: `A payment notice about invoice ${inv} was not confirmed`,
        text: "A notice said something happened to this invoice's payment, but Paywint's own records do not say so. Nothing was changed. If this happens often, someone may be sending false notices.",
      };
    case 'unknown-status':
      return {
        title: `Paywint gave invoice ${inv} a status paylinks does not know`,
        text: 'It is not counted as paid. Check the payment in Paywint.',
      };
    default:
      return { title: inv ? `Invoice ${inv}: ${e.kind}` : String(e.kind), text: '' };
  }
}

/**
 * Fills a `<ul>` with exceptions in words; each keeps what paylinks saw behind "Details".
 * `invoiceAmounts`: invoice number → its amount, where known (to say how much a payment was short).
 */
export function renderExceptions(ul, exceptions, formatTime, invoiceAmounts = new Map()) {
  ul.textContent = '';
  for (const e of exceptions) {
    const { title, text } = exceptionWords(e, invoiceAmounts.get(invoice(e)) ?? null);
    const li = document.createElement('li');
    li.className = `exception exception-${e.kind}`;
    const strong = document.createElement('strong');
    strong.textContent = title;
    const p = document.createElement('p');
    p.textContent = text;
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = `Details (found ${formatTime(e.at)})`;
    const seen = document.createElement('p');
    seen.textContent = `What paylinks saw: ${e.detail}. Payment id ${e.paymentId || e.payment_id}.`;
    details.append(summary, seen);
    li.append(strong, p, details);
    ul.appendChild(li);
  }
}
