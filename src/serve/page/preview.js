// Step 2: the held batch checked: its rows, what the ledger already has (new invoices, invoices that
// already have a link), the rows that will not be sent; then confirm or discard.

import { api, batchPath, getJson } from './api.js';
import { ErrorsTable } from './errors-table.js';
import { startOver } from './flow.js';
import { watch } from './progress.js';
import { canReadAgain, readAgain } from './read-as.js';
import { loadRecent } from './recent.js';
import { $, alertError, clearAlert, count, formatTime, money, note, plural, show } from './ui.js';

let current = null;
let errors = null;

function describeReading(readAs) {
  if (!readAs) return '';
  const parts = [`invoice numbers from "${readAs.headers[readAs.invoice_column]}"`, `amounts from "${readAs.headers[readAs.amount_column]}"`];
  if (readAs.decimal) parts.push(`decimal ${readAs.decimal}`);
  if (readAs.sheet) parts.push(`sheet "${readAs.sheet}"`);
  return `Read with ${parts.join(', ')}.`;
}

/** The ledger's counts in words, and the button: it counts only the invoices that get a new link. */
function ledgerWords(batch) {
  const ledger = batch.ledger;
  const fresh = ledger ? ledger.new : batch.valid;
  const total = ledger ? ledger.new_amount : batch.total_amount;
  const notes = [];
  if (ledger && ledger.linked > 0) notes.push(`${plural(ledger.linked, 'invoice already has a payment link', 'invoices already have a payment link')} (${money(ledger.linked_amount)}) from an earlier file: ${ledger.linked === 1 ? 'it keeps its link' : 'they keep their links'}, nothing is sent for ${ledger.linked === 1 ? 'it' : 'them'}.`);
  if (ledger && ledger.conflicts > 0) notes.push(`${plural(ledger.conflicts, 'invoice has', 'invoices have')} a link for a different amount or description (${money(ledger.conflicts_amount)}): no new link is made; ${ledger.conflicts === 1 ? 'it is' : 'they are'} listed in the output.`);
  const had = ledger ? ledger.linked + ledger.conflicts : 0;
  const aside = [];
  if (total !== null) aside.push(`total ${money(total)}`);
  if (had > 0) aside.push(`${count(had)} already ${had === 1 ? 'has' : 'have'} one`);
  const button =
    batch.valid === 0
      ? 'No valid rows to send'
      : fresh === 0
        ? `Continue without new links (all ${count(had)} already have one)`
        : `Create ${plural(fresh, 'payment link', 'payment links')}${aside.length === 0 ? '' : ` (${aside.join('; ')})`}`;
  return { fresh, total, notes, button, had };
}

export async function showPreview(batch) {
  current = { id: batch.id, file: batch.file, readAs: batch.read_as };
  show('preview');
  $('preview-file').textContent = batch.file;
  const words = ledgerWords(batch);
  $('preview-rows').textContent = count(batch.rows);
  $('preview-new').textContent = count(words.fresh);
  $('preview-linked').textContent = count(words.had);
  $('preview-linked-box').hidden = words.had === 0;
  $('preview-invalid').textContent = count(batch.rows - batch.valid);
  $('preview-invalid-box').className = batch.rows === batch.valid ? '' : 'problem';
  $('preview-total').textContent = words.total === null ? '—' : money(words.total);
  $('preview-ledger').textContent = words.notes.join(' ');
  $('preview-ledger').hidden = words.notes.length === 0;
  $('release').textContent = words.button;
  $('release').disabled = batch.valid === 0;
  $('preview-read-as-text').textContent = describeReading(batch.read_as);
  $('preview-change').hidden = !canReadAgain(batch);
  $('preview-expiry').textContent = batch.hold_expires_at ? `Nothing has been sent yet. This upload is kept until ${formatTime(batch.hold_expires_at)}, then dropped.` : '';
  const problems = batch.rows - batch.valid;
  $('preview-errors').hidden = problems === 0;
  $('preview-none').hidden = problems !== 0;
  if (problems > 0) {
    errors ??= new ErrorsTable(document.querySelector('[data-errors="preview"]'), 'preview-errors-title');
    await errors.open(batch.id, problems);
  }
  $('preview-title').focus();
  loadRecent();
}

async function release() {
  clearAlert();
  $('release').disabled = true;
  try {
    await api(batchPath(current.id, '/release'), { method: 'POST' });
    note('Sending to Paywint…');
    await watch(await getJson(batchPath(current.id)));
  } catch (error) {
    alertError(error);
  } finally {
    $('release').disabled = false;
  }
}

async function discard() {
  clearAlert();
  try {
    await api(batchPath(current.id), { method: 'DELETE' });
    note(`Discarded ${current.file}: nothing was sent.`);
    startOver();
  } catch (error) {
    alertError(error);
  }
}

export function wirePreview() {
  $('release').addEventListener('click', release);
  $('discard').addEventListener('click', discard);
  $('preview-change').addEventListener('click', () => readAgain(current, current.id));
}
