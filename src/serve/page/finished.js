// Step 4: a finished batch: what it made (new links, links it already had, their amounts), the rows
// without a new link and why, the output to download (CSV or Excel), a retry of failed rows.

import { api, batchPath, getJson } from './api.js';
import { showCollection } from './collection.js';
import { ErrorsTable } from './errors-table.js';
import { startOver } from './flow.js';
import { canReadAgain, readAgain } from './read-as.js';
import { watch } from './progress.js';
import { loadRecent } from './recent.js';
import { showMail } from './mail.js';
import { $, addMoney, alertError, clearAlert, count, figure, money, note, plural, show, STATE_LABELS } from './ui.js';

let current = null;
let errors = null;

const HEADINGS = { completed: 'Done', completed_with_errors: 'Done, with problems', cancelled: 'Cancelled', failed: 'Stopped' };

export async function showFinished(batch) {
  show('finished');
  current = { id: batch.id, file: batch.file, readAs: batch.read_as, simulated: batch.simulated, maybeLinked: batch.may_have_link ?? 0 };
  note('');
  const c = batch.counts;
  const linked = c.created + c.exists;
  const problems = c.invalid + c.duplicate + c.conflict + c.failed;
  $('finished-heading').textContent = `${HEADINGS[batch.state] || STATE_LABELS[batch.state]}: ${batch.file}`;
  $('finished-simulated').hidden = !batch.simulated;
  const amount = addMoney(batch.amount_created, batch.amount_exists);
  $('finished-summary').textContent = `${plural(linked, 'invoice has', 'invoices have')} a payment link, for ${money(amount)} in all, out of ${count(batch.rows)} rows.`;
  const dl = $('finished-counts');
  dl.textContent = '';
  figure(dl, batch.simulated ? 'New links (simulated)' : 'New links', count(c.created), 'good', money(batch.amount_created));
  if (c.exists > 0) figure(dl, 'Already had a link', count(c.exists), 'good', money(batch.amount_exists));
  if (c.invalid + c.duplicate > 0) figure(dl, 'Invalid or duplicate rows', count(c.invalid + c.duplicate), 'problem');
  if (c.conflict > 0) figure(dl, 'Link exists for another amount', count(c.conflict), 'problem');
  if (c.failed > 0) figure(dl, batch.state === 'cancelled' ? 'Failed or not sent' : 'Failed', count(c.failed), 'problem');
  if (current.maybeLinked > 0) {
    figure(dl, 'Failed, may have a link at Paywint', count(current.maybeLinked), 'problem', 'Their requests got no clear answer: look for the link at Paywint before mailing or retrying');
  }
  $('finished-stop').hidden = !batch.stop_message;
  $('finished-stop').textContent = batch.stop_message ? `Stopped: ${batch.stop_message}` : '';
  $('retry').hidden = c.failed === 0 || batch.state === 'cancelled';
  $('send-mail').hidden = linked === 0;
  current.batch = batch;
  askRetry(false);
  $('finished-errors').hidden = problems === 0;
  $('finished-change').hidden = c.invalid === 0 || !canReadAgain(batch);
  if (problems > 0) {
    errors ??= new ErrorsTable(document.querySelector('[data-errors="finished"]'), 'finished-errors-title');
    await errors.open(batch.id, problems).catch(alertError);
  }
  $('finished-title').focus();
  loadRecent();
}

/** Downloads a finished batch's output, `csv` or `xlsx`. */
export async function download(id, file, ext = 'csv') {
  clearAlert();
  try {
    const blob = await (await api(batchPath(id, `/output.${ext}`))).blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `${file.replace(/\.[^.]*$/, '')}.out.${ext}`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    note(`Downloaded ${a.download}.`);
  } catch (error) {
    alertError(error);
  }
}

/** Rows that may have a link at Paywint are sent again only once the person says so. */
function askRetry(asking) {
  $('retry-confirm').hidden = !asking;
  if (asking) {
    $('retry-unknown').textContent = `${plural(current.maybeLinked, 'failed row', 'failed rows')} may have a link at Paywint.`;
    $('retry-no').focus();
  }
}

async function retry(includeUnknown) {
  clearAlert();
  askRetry(false);
  try {
    const result = await getJson(batchPath(current.id, includeUnknown ? '/retry?include_unknown=true' : '/retry'), { method: 'POST' });
    const left = result.unknown_left > 0 ? ` ${plural(result.unknown_left, 'row that may have a link was', 'rows that may have a link were')} left alone.` : '';
    note(`${plural(result.requeued, 'failed row', 'failed rows')} sent again.${left}`);
    if (result.requeued > 0) await watch(await getJson(batchPath(current.id)));
  } catch (error) {
    alertError(error);
  }
}

export function wireFinished() {
  $('download').addEventListener('click', () => download(current.id, current.file, 'csv'));
  $('download-xlsx').addEventListener('click', () => download(current.id, current.file, 'xlsx'));
  $('retry').addEventListener('click', retry);
  $('send-mail').addEventListener('click', () => showMail(current.batch, () => showFinished(current.batch)));
  $('finished-payments').addEventListener('click', () => showCollection({ id: current.id, file: current.file, simulated: current.simulated }).catch(alertError));
  $('retry').addEventListener('click', () => (current.maybeLinked > 0 ? askRetry(true) : retry(false)));
  $('retry-all').addEventListener('click', () => retry(true));
  $('retry-others').addEventListener('click', () => retry(false));
  $('retry-no').addEventListener('click', () => {
    askRetry(false);
    $('retry').focus();
  });
  $('finished-change').addEventListener('click', () => readAgain(current, null));
  $('another').addEventListener('click', () => {
    clearAlert();
    note('');
    startOver();
  });
}
