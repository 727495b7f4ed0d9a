// The collection view of a batch: who paid, who has not, for how long, what needs attention, and every row
// with its link and status; live as payments arrive. It reads `GET /api/batches/{id}/report.json` (a page of
// rows at a time) and downloads the report as CSV or Excel.

import { api, batchPath, getJson } from './api.js';
import { CollectionRows, PAGE_ROWS } from './collection-rows.js';
import { startOver } from './flow.js';
import { follow, unfollow } from './payments-live.js';
import { renderExceptions, STATUS_LABELS } from './payment-words.js';
import { $, alertError, clearAlert, count, figure, formatTime, money, note, plural, show } from './ui.js';

const AGING_LABELS = { '0-7': '0 to 7 days ago', '8-30': '8 to 30 days ago', '31-60': '31 to 60 days ago', '61-90': '61 to 90 days ago', '>90': 'Over 90 days ago' };
/** Shown always; the other statuses only when some link has them. */
const MAIN_STATES = ['paid', 'unpaid', 'failed', 'expired'];
const FIGURE_ORDER = ['paid', 'unpaid', 'opened', 'processing', 'failed', 'rejected', 'expired'];
const FIGURE_CLASS = { paid: 'good', failed: 'problem', rejected: 'problem', expired: 'problem' };

let current = null; // { id, file, offset }
let rows = null;
let lastUpdate = null;
let live = false;

/** Opens the collection view of a batch (`{ id }`, or a batch of the API with its file). */
export async function showCollection(batch) {
  clearAlert();
  const full = batch.file ? batch : await getJson(batchPath(batch.id));
  current = { id: full.id, file: full.file, offset: 0 };
  show('collection');
  note('');
  $('collection-file').textContent = full.file;
  $('collection-simulated').hidden = !full.simulated;
  $('collection-content').hidden = true;
  $('collection-unavailable').hidden = true;
  $('collection-live').textContent = 'Reading the payments…';
  rows ??= new CollectionRows($('collection-rows'), 'collection-rows-title', (offset) => goTo(offset));
  $('collection-title').focus();
  await load();
  const id = current.id;
  follow('collection', () => (current?.id === id && !$('collection').hidden ? load() : stopFollowing()), (up) => {
    live = up;
    renderLive();
  });
}

function stopFollowing() {
  unfollow('collection');
}

async function goTo(offset) {
  current.offset = offset;
  await load();
  $('collection-rows-title').scrollIntoView({ block: 'start' });
}

/** Reads the report (the summary and the page of rows on screen) and shows it. */
async function load() {
  const { id, offset } = current;
  let report;
  try {
    report = await getJson(batchPath(id, `/report.json?offset=${offset}&limit=${PAGE_ROWS}`));
  } catch (error) {
    if (current?.id !== id) return;
    if (error.status === 404 && error.code === 'NOT_FOUND') {
      // The route is not there: a paylinks without payment reports.
      $('collection-unavailable').textContent = 'This server cannot show payments yet: it needs a newer paylinks.';
      $('collection-unavailable').hidden = false;
      $('collection-live').textContent = '';
      return;
    }
    alertError(error);
    return;
  }
  if (current?.id !== id) return;
  render(report, await invoiceAmounts(report));
  lastUpdate = new Date();
  renderLive();
}

function renderLive() {
  if (!current || !lastUpdate) return;
  const at = lastUpdate.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  $('collection-live').textContent = live
    ? `Live: this page updates by itself as payments arrive. Last update ${at}.`
    : `Not live right now (reconnecting). Last update ${at}.`;
  $('collection-live').classList.toggle('offline', !live);
}

const amountCache = new Map(); // invoice number → its amount (an invoice's amount never changes)

/** The amounts of the invoices paid another amount (to say by how much), from the rows on screen or the API. */
async function invoiceAmounts(report) {
  for (const r of report.rows) if ((r.exception || '').split(' ').includes('amount-mismatch')) amountCache.set(r.invoice_number, r.amount);
  const missing = report.exceptions.filter((e) => e.kind === 'amount-mismatch' && e.invoiceNumber && !amountCache.has(e.invoiceNumber)).slice(0, 20);
  await Promise.all(
    missing.map((e) =>
      getJson(`/api/invoices/${encodeURIComponent(e.invoiceNumber)}`)
        .then((inv) => amountCache.set(e.invoiceNumber, inv.amount))
        .catch(() => undefined),
    ),
  );
  return amountCache;
}

function render(report, amounts) {
  const s = report.summary;
  $('collection-content').hidden = false;
  const percent = Number(s.collectedPercent);
  $('collection-headline').textContent =
    s.links === 0
      ? 'No invoice of this file has a payment link.'
      : s.collected
        ? `Everything is paid: ${money(s.paidAmount)} collected.`
        : `Collected ${money(s.paidAmount)} of ${money(s.linkedAmount)} (${formatPercent(percent)})`;
  $('collection-bar').value = Math.min(100, percent);
  $('collection-bar').hidden = s.links === 0;
  const parts = [`${plural(s.links, 'invoice has', 'invoices have')} a payment link`];
  if (s.withoutLink > 0) parts.push(`${plural(s.withoutLink, 'row has', 'rows have')} none (invalid, duplicate or failed) and cannot be paid`);
  $('collection-links').textContent = `${parts.join('; ')}.`;

  const dl = $('collection-figures');
  dl.textContent = '';
  for (const state of FIGURE_ORDER) {
    const c = s.byStatus[state];
    if (!c || (!MAIN_STATES.includes(state) && c.count === 0)) continue;
    const cls = c.count === 0 ? '' : FIGURE_CLASS[state];
    figure(dl, STATUS_LABELS[state], count(c.count), cls, c.count === 0 ? '' : `worth ${money(c.amount)}`);
  }

  const body = $('aging-body');
  body.textContent = '';
  for (const [bucket, label] of Object.entries(AGING_LABELS)) {
    const a = s.aging[bucket] || { count: 0, amount: '0.00' };
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = label;
    tr.appendChild(th);
    const n = document.createElement('td');
    n.className = 'num';
    n.textContent = count(a.count);
    const amount = document.createElement('td');
    amount.className = 'num';
    amount.textContent = money(a.amount);
    tr.append(n, amount);
    if (a.count > 0 && (bucket === '61-90' || bucket === '>90')) tr.className = 'overdue';
    body.appendChild(tr);
  }

  $('collection-exceptions-box').hidden = report.exceptions.length === 0;
  $('collection-exceptions-title').textContent = `Needs your attention (${count(report.exceptions.length)})`;
  renderExceptions($('collection-exceptions'), report.exceptions, formatTime, amounts);
  // Rows expired (PAYLINKS_RETENTION_DAYS): the report lists the batch's links from the ledger, without lines.
  $('collection-rows-title').textContent = report.source === 'ledger' ? "The file's payment links (its rows are no longer kept)" : 'Every row of the file';
  rows.render(report);
}

/** 24.5 → "24.5%"; never "100%" before everything is paid. */
function formatPercent(p) {
  const shown = p >= 99.95 && p < 100 ? 99.9 : Math.round(p * 10) / 10;
  return `${shown.toLocaleString('en-US')}%`;
}

async function downloadReport(ext) {
  clearAlert();
  try {
    const blob = await (await api(batchPath(current.id, `/report.${ext}`))).blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `${current.file.replace(/\.[^.]*$/, '')}.report.${ext}`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    note(`Downloaded ${a.download}.`);
  } catch (error) {
    alertError(error);
  }
}

export function wireCollection() {
  $('collection-title').tabIndex = -1;
  $('report-csv').addEventListener('click', () => downloadReport('csv'));
  $('report-xlsx').addEventListener('click', () => downloadReport('xlsx'));
  $('collection-back').addEventListener('click', () => {
    stopFollowing();
    current = null;
    startOver();
  });
}
