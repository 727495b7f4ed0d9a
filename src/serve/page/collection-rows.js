// The rows of a batch in the collection view: each with its link and payment status, a page at a time
// (a batch can have a million rows: the browser only ever has one page of them).

import { EXCEPTION_TAGS, NO_LINK_REASONS, STATUS_LABELS } from './payment-words.js';
import { cell, count, formatTime, money, peopleText } from './ui.js';

export const PAGE_ROWS = 50;

export class CollectionRows {
  /** `container`: an element to fill; `labelledBy`: the heading's id; `go(offset)`: shows the page at `offset`. */
  constructor(container, labelledBy, go) {
    container.textContent = '';
    const scroll = document.createElement('div');
    scroll.className = 'table-scroll stack rows-table';
    const table = document.createElement('table');
    table.setAttribute('aria-labelledby', labelledBy);
    table.innerHTML =
      '<thead><tr><th scope="col" class="num">Line</th><th scope="col">Invoice</th><th scope="col" class="num">Amount</th><th scope="col">Status</th><th scope="col" class="num">Paid</th><th scope="col">Payment link</th></tr></thead>';
    this.body = document.createElement('tbody');
    table.appendChild(this.body);
    scroll.appendChild(table);
    this.shown = document.createElement('p');
    this.shown.className = 'hint shown-count';
    this.previous = button('Previous 50', () => go(Math.max(0, this.offset - PAGE_ROWS)));
    this.next = button('Next 50', () => go(this.offset + PAGE_ROWS));
    const foot = document.createElement('div');
    foot.className = 'table-foot';
    foot.append(this.shown, this.previous, this.next);
    container.append(scroll, foot);
    this.offset = 0;
  }

  /** Shows a page of report.json's rows (`report.rows` from `report.offset`, of `report.totalRows`). */
  render(report) {
    this.offset = report.offset;
    this.body.textContent = '';
    for (const r of report.rows) {
      const tr = document.createElement('tr');
      cell(tr, r.line === null ? '' : String(r.line), 'num', 'Line');
      cell(tr, r.invoice_number || '(none)', 'invoice', 'Invoice');
      cell(tr, r.amount ? money(r.amount) : '', 'num', 'Amount');
      const status = cell(tr, '', `pay-status`, 'Status');
      const badge = document.createElement('span');
      badge.className = `badge badge-${r.payment_status || 'none'}`;
      badge.textContent = r.payment_status ? STATUS_LABELS[r.payment_status] || r.payment_status : NO_LINK_REASONS[r.output_status] || 'No link';
      status.appendChild(badge);
      // The reason in words: a row error's code (MISSING_INVOICE_NUMBER: ...) is for scripts.
      if (r.failure_reason) status.append(` ${peopleText(r.failure_reason.replace(/^[A-Z][A-Z0-9_]+: /, ''))}`);
      for (const kind of (r.exception || '').split(' ').filter(Boolean)) {
        const tag = document.createElement('span');
        tag.className = 'tag tag-problem';
        tag.textContent = EXCEPTION_TAGS[kind] || kind;
        status.append(' ', tag);
      }
      const paid = cell(tr, r.amount_paid ? money(r.amount_paid) : '', 'num', 'Paid');
      if (r.paid_at) {
        const when = document.createElement('span');
        when.className = 'when';
        when.textContent = formatTime(r.paid_at);
        paid.append(document.createElement('br'), when);
      }
      const link = cell(tr, '', 'link', 'Link');
      if (r.payment_link) link.appendChild(linkTo(r.payment_link));
      this.body.appendChild(tr);
    }
    const total = report.totalRows;
    const last = report.offset + report.rows.length;
    this.shown.textContent = total === 0 ? 'No rows.' : `Rows ${count(report.offset + 1)} to ${count(last)} of ${count(total)}`;
    this.previous.disabled = report.offset === 0;
    this.next.disabled = last >= total;
    this.previous.hidden = this.next.hidden = total <= PAGE_ROWS;
  }
}

/** A payment link to open in a new tab; only http(s) addresses become links (never a `javascript:` one). */
export function linkTo(url) {
  if (!/^https?:\/\//i.test(url)) return document.createTextNode(url);
  const a = document.createElement('a');
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  a.textContent = url.replace(/^https?:\/\//i, '');
  return a;
}

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'secondary';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}
