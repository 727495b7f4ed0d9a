// "Where is INV-123, what is its link, is it paid?": the search box in the top bar and the card with the
// answer (`GET /api/invoices/{invoiceNumber}`, any batch, case ignored), kept up to date as payments arrive.

import { getJson } from './api.js';
import { showCollection } from './collection.js';
import { linkTo } from './collection-rows.js';
import { follow, unfollow } from './payments-live.js';
import { renderExceptions, STATUS_LABELS, STATUS_MEANINGS } from './payment-words.js';
import { $, formatTime, money, note } from './ui.js';

let shown = null; // the invoice number on the card

export async function findInvoice(query) {
  const asked = query.trim();
  if (!asked) return;
  shown = asked;
  $('found').hidden = false;
  $('found-title').textContent = `Looking for ${asked}…`;
  $('found-body').textContent = '';
  await refresh(asked, true);
  if (shown === asked) follow('invoice', () => (shown === asked && !$('found').hidden ? refresh(asked, false) : unfollow('invoice')));
}

async function refresh(asked, first) {
  let invoice;
  try {
    invoice = await getJson(`/api/invoices/${encodeURIComponent(asked)}`);
  } catch (error) {
    if (shown !== asked) return;
    if (error.code === 'INVOICE_NOT_FOUND') notFound(asked);
    else if (first) failed(asked, error);
    return;
  }
  if (shown !== asked) return;
  render(invoice);
}

function notFound(asked) {
  $('found').classList.remove('found-paid');
  $('found').classList.add('found-none');
  $('found-title').textContent = `No invoice ${asked}`;
  const p = document.createElement('p');
  p.className = 'found-missing';
  p.textContent = `No batch made a payment link for an invoice numbered ${asked}. Check the number (letter case does not matter). An invoice whose row was invalid, a duplicate, or failed has no link: look for it in that file's output.`;
  $('found-body').replaceChildren(p);
}

function failed(asked, error) {
  $('found-title').textContent = `Could not look for ${asked}`;
  const p = document.createElement('p');
  p.textContent = error.message;
  $('found-body').replaceChildren(p);
}

function row(dl, label, value) {
  const div = document.createElement('div');
  const dt = document.createElement('dt');
  dt.textContent = label;
  const dd = document.createElement('dd');
  if (typeof value === 'string') dd.textContent = value;
  else dd.append(...value);
  div.append(dt, dd);
  dl.appendChild(div);
  return dd;
}

/** " (40 days ago)", for a link a day old or more. */
function daysAgo(iso) {
  const days = Math.floor((Date.now() - Date.parse(iso)) / 86_400_000);
  return days >= 1 ? ` (${days === 1 ? '1 day' : `${days} days`} ago)` : '';
}

function render(inv) {
  $('found').classList.remove('found-none');
  $('found').classList.toggle('found-paid', inv.payment_status === 'paid');
  $('found-title').textContent = `Invoice ${inv.invoice_number}`;
  const head = document.createElement('p');
  head.className = 'found-status';
  const badge = document.createElement('span');
  badge.className = `badge badge-${inv.payment_status}`;
  badge.textContent = STATUS_LABELS[inv.payment_status] || inv.payment_status;
  let sentence = STATUS_MEANINGS[inv.payment_status] || '';
  if (inv.payment_status === 'paid') sentence = `${money(inv.amount_paid || inv.amount)} received${inv.paid_at ? ` on ${formatTime(inv.paid_at)}` : ''}.`;
  if (inv.failure_reason) sentence += ` Reason: ${inv.failure_reason}.`;
  head.append(badge, ` ${sentence}`);

  const dl = document.createElement('dl');
  dl.className = 'found-facts';
  row(dl, 'Amount', money(inv.amount));
  if (inv.description) row(dl, 'Description', inv.description);
  const linkDd = row(dl, 'Payment link', [linkTo(inv.payment_link)]);
  if (navigator.clipboard) {
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'secondary copy';
    copy.textContent = 'Copy';
    copy.setAttribute('aria-label', `Copy the payment link of ${inv.invoice_number}`);
    copy.addEventListener('click', () =>
      navigator.clipboard.writeText(inv.payment_link).then(
        () => note(`The payment link of ${inv.invoice_number} is copied.`),
        () => note('The link could not be copied: select it and copy it.'),
      ),
    );
    linkDd.append(copy);
  }
  const b = inv.batch;
  const from = b.file ? `${b.file}${b.line ? `, line ${b.line}` : ''}` : `batch ${b.id} (its file is no longer kept)`;
  const fileDd = row(dl, 'From the file', `${from} · link made ${formatTime(inv.link_created_at)}${daysAgo(inv.link_created_at)}`);
  if (b.file) {
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'link-button inline';
    open.textContent = 'See who paid in this file';
    open.addEventListener('click', () => showCollection({ id: b.id }).catch(() => undefined));
    fileDd.append(' ', open);
  }
  if (inv.confirmed_at) row(dl, 'Last confirmed by Paywint', formatTime(inv.confirmed_at));

  const parts = [head, dl];
  if (inv.exceptions.length > 0) {
    const h = document.createElement('h3');
    h.textContent = 'Needs your attention';
    const ul = document.createElement('ul');
    ul.className = 'exceptions';
    renderExceptions(ul, inv.exceptions, formatTime, new Map([[inv.invoice_number, inv.amount]]));
    parts.push(h, ul);
  }
  $('found-body').replaceChildren(...parts);
}

function closeCard() {
  shown = null;
  unfollow('invoice');
  $('found').hidden = true;
  $('find-input').focus();
}

export function wireSearch() {
  $('find-form').addEventListener('submit', (event) => {
    event.preventDefault();
    findInvoice($('find-input').value);
  });
  $('found-close').addEventListener('click', closeCard);
}
