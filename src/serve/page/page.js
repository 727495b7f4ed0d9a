// The paylinks page: signs in with a token (kept in this tab's sessionStorage) and uses the documented API only.
'use strict';

const TOKEN_KEY = 'paylinks.token';
const $ = (id) => document.getElementById(id);
const STATE_LABELS = {
  submitting: 'Being stored',
  held: 'Waiting for confirmation',
  queued: 'Queued',
  running: 'Running',
  completed: 'Done',
  completed_with_errors: 'Done, with problems',
  cancelled: 'Cancelled',
  failed: 'Stopped',
};
const STATUS_LABELS = {
  created: 'Links created',
  exists: 'Already had a link',
  invalid: 'Invalid',
  duplicate: 'Duplicate in the file',
  conflict: 'Conflicts with an earlier link',
  failed: 'Failed',
};

let current = null; // the batch on screen: {id, file}
let stream = null; // AbortController of the progress stream
let nextErrors = null; // `from` of the next page of row errors
let lastRecent = 0; // when the recent batches were last loaded

// ---- talking to the API ----

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path, init = {}) {
  const headers = { ...(init.headers || {}), Authorization: `Bearer ${token()}` };
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch {
    throw new ApiError(0, 'NETWORK', 'paylinks cannot be reached. Check your connection and try again.');
  }
  if (response.ok) return response;
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: keep the status only
  }
  if (response.status === 401) signOut('Your token was not accepted. Sign in again.');
  throw new ApiError(response.status, body.code || `HTTP_${response.status}`, body.message || `The server answered ${response.status}.`);
}

const getJson = async (path, init) => (await api(path, init)).json();

// ---- what the person sees ----

function show(...ids) {
  for (const id of ['sign-in', 'upload', 'preview', 'progress', 'finished', 'recent']) $(id).hidden = !ids.includes(id);
  $('sign-out').hidden = ids.includes('sign-in');
}

function alertError(error) {
  // A file error reads "march.csv:5: what is wrong": say it in words.
  let text = String(error.message).replace(/^(.+?):(\d+): /, '$1, line $2: ');
  if (error.status === 422) text = `This file cannot be used. ${text}`;
  if (error.code === 'FILE_MISSING_COLUMN') text += ' The first line of the file must name the columns (for example "Invoice Number" and "Amount").';
  $('alert').textContent = text;
  $('alert').hidden = false;
  $('alert').focus();
}

function clearAlert() {
  $('alert').hidden = true;
  $('alert').textContent = '';
}

function note(text) {
  $('note').textContent = text;
}

/** "1234567.89" → "1,234,567.89" (strings only: amounts never go through a float). */
function money(decimal) {
  const [whole, fraction] = String(decimal).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

const count = (n) => Number(n).toLocaleString('en-US');
const plural = (n, one, many) => `${count(n)} ${n === 1 ? one : many}`;

function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function duration(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

// ---- 1. sign in ----

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (stream) stream.abort();
  show('sign-in');
  if (message) alertError({ message });
  $('token').value = '';
  $('token').focus();
}

async function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  try {
    await api('/api/batches?limit=1');
  } catch (error) {
    if (error.status !== 401) alertError(error);
    return;
  }
  clearAlert();
  note('Signed in.');
  startOver();
}

// ---- 2. upload (held) and preview ----

async function upload(file) {
  clearAlert();
  if (!file) return;
  const form = new FormData();
  form.append('file', file, file.name);
  $('drop').classList.add('busy');
  $('drop').setAttribute('aria-busy', 'true');
  note(`Uploading and checking ${file.name}…`);
  try {
    const result = await getJson('/api/batches?hold=true', { method: 'POST', body: form });
    note('');
    await openBatch(result.batch_id);
  } catch (error) {
    note('');
    alertError(error);
  } finally {
    $('drop').classList.remove('busy');
    $('drop').removeAttribute('aria-busy');
    $('file').value = '';
  }
}

async function openBatch(id) {
  const batch = await getJson(`/api/batches/${encodeURIComponent(id)}`);
  current = { id, file: batch.file };
  if (batch.state === 'held') return showPreview(batch);
  if (['completed', 'completed_with_errors', 'cancelled', 'failed'].includes(batch.state)) return showFinished(batch);
  return watch(batch);
}

async function showPreview(batch) {
  show('preview', 'recent');
  $('preview-file').textContent = batch.file;
  $('preview-rows').textContent = count(batch.rows);
  $('preview-valid').textContent = count(batch.valid);
  $('preview-invalid').textContent = count(batch.rows - batch.valid);
  const total = batch.total_amount;
  $('preview-total').textContent = total === null ? '—' : money(total);
  $('release').textContent = batch.valid === 0 ? 'No valid rows to send' : `Create ${plural(batch.valid, 'payment link', 'payment links')}${total === null ? '' : ` (total ${money(total)})`}`;
  $('release').disabled = batch.valid === 0;
  $('preview-expiry').textContent = batch.hold_expires_at ? `Nothing has been sent yet. This upload is kept until ${formatTime(batch.hold_expires_at)}, then dropped.` : '';
  $('errors-body').textContent = '';
  nextErrors = 0;
  $('preview-errors').hidden = batch.rows === batch.valid;
  $('preview-none').hidden = batch.rows !== batch.valid;
  if (batch.rows !== batch.valid) await moreErrors();
  $('preview-title').focus();
  loadRecent();
}

async function moreErrors() {
  if (nextErrors === null) return;
  const page = await getJson(`/api/batches/${encodeURIComponent(current.id)}/errors?from=${nextErrors}&limit=100`);
  for (const e of page.errors) {
    const tr = document.createElement('tr');
    cell(tr, String(e.line), 'num');
    cell(tr, e.invoice_number || '(none)');
    cell(tr, e.message);
    $('errors-body').appendChild(tr);
  }
  nextErrors = page.next;
  $('more-errors').hidden = nextErrors === null;
}

// ---- 3. confirm or discard ----

async function release() {
  clearAlert();
  $('release').disabled = true;
  try {
    await api(`/api/batches/${encodeURIComponent(current.id)}/release`, { method: 'POST' });
    note('Sending to Paywint…');
    await watch(await getJson(`/api/batches/${encodeURIComponent(current.id)}`));
  } catch (error) {
    alertError(error);
  } finally {
    $('release').disabled = false;
  }
}

async function discard() {
  clearAlert();
  try {
    await api(`/api/batches/${encodeURIComponent(current.id)}`, { method: 'DELETE' });
    note(`Discarded ${current.file}: nothing was sent.`);
    startOver();
  } catch (error) {
    alertError(error);
  }
}

// ---- 4. live progress ----

function renderProgress(batch) {
  // Invalid and duplicate rows are settled at upload: progress counts the invoices being sent.
  const sent = batch.counts.created + batch.counts.exists + batch.counts.conflict + batch.counts.failed;
  $('progress-file').textContent = batch.file;
  $('progress-bar').max = Math.max(batch.valid, 1);
  $('progress-bar').value = sent;
  $('progress-text').textContent = `${count(sent)} of ${plural(batch.valid, 'invoice', 'invoices')} sent`;
  const parts = [];
  if (batch.rate_per_second !== null) parts.push(`${batch.rate_per_second} invoices per second`);
  if (batch.eta_seconds) parts.push(`about ${duration(batch.eta_seconds)} left`);
  const failed = batch.counts.failed + batch.counts.conflict;
  parts.push(failed === 0 ? 'no failures so far' : `${plural(failed, 'failure', 'failures')} so far`);
  if (batch.rows > batch.valid) parts.push(`${plural(batch.rows - batch.valid, 'row', 'rows')} of the file not sent (invalid or duplicate)`);
  $('progress-detail').textContent = parts.join(' · ');
  if (Date.now() - lastRecent > 2000) loadRecent();
}

async function watch(batch) {
  show('progress', 'recent');
  lastRecent = 0;
  renderProgress(batch);
  $('progress-title').focus();
  if (stream) stream.abort();
  const controller = new AbortController();
  stream = controller;
  try {
    const response = await api(`/api/batches/${encodeURIComponent(batch.id)}/events`, { signal: controller.signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(message);
        const data = /^data: (.*)$/m.exec(message);
        if (!event || !data) continue;
        const payload = JSON.parse(data[1]);
        if (event[1] === 'progress') renderProgress(payload);
        if (event[1] === 'finished') return showFinished(payload);
        if (event[1] === 'gone') {
          note('This batch is no longer there: it was discarded or has expired.');
          return startOver();
        }
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    alertError(error);
  }
  // The stream ended early (the server restarted, a proxy cut it): look again shortly.
  if (!controller.signal.aborted) setTimeout(() => openBatch(batch.id).catch(alertError), 2000);
}

// ---- 5. finished ----

function showFinished(batch) {
  show('finished', 'recent');
  current = { id: batch.id, file: batch.file };
  note('');
  const linked = batch.counts.created + batch.counts.exists;
  const heading = { completed: 'Done', completed_with_errors: 'Done, with problems', cancelled: 'Cancelled', failed: 'Stopped' }[batch.state] || STATE_LABELS[batch.state];
  $('finished-heading').textContent = `${heading}: ${batch.file}`;
  $('finished-summary').textContent = `${plural(linked, 'invoice has', 'invoices have')} a payment link, out of ${count(batch.rows)} rows.`;
  const dl = $('finished-counts');
  dl.textContent = '';
  for (const [status, label] of Object.entries(STATUS_LABELS)) {
    const n = batch.counts[status];
    if (n === 0 && status !== 'created') continue;
    const div = document.createElement('div');
    div.className = ['invalid', 'duplicate', 'conflict', 'failed'].includes(status) ? 'problem' : 'good';
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = count(n);
    div.append(dt, dd);
    dl.appendChild(div);
  }
  $('finished-stop').hidden = !batch.stop_message;
  $('finished-stop').textContent = batch.stop_message ? `Stopped: ${batch.stop_message}` : '';
  $('retry').hidden = batch.counts.failed === 0 || batch.state === 'cancelled';
  $('finished-title').focus();
  loadRecent();
}

async function download(id, file) {
  clearAlert();
  try {
    const blob = await (await api(`/api/batches/${encodeURIComponent(id)}/output.csv`)).blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `${file.replace(/\.[^.]*$/, '')}.out.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    note(`Downloaded ${a.download}.`);
  } catch (error) {
    alertError(error);
  }
}

async function retry() {
  clearAlert();
  try {
    const result = await getJson(`/api/batches/${encodeURIComponent(current.id)}/retry`, { method: 'POST' });
    note(`${plural(result.requeued, 'failed row', 'failed rows')} sent again.`);
    await watch(await getJson(`/api/batches/${encodeURIComponent(current.id)}`));
  } catch (error) {
    alertError(error);
  }
}

// ---- 6. recent batches ----

async function loadRecent() {
  lastRecent = Date.now();
  let batches;
  try {
    batches = await getJson('/api/batches?limit=20');
  } catch (error) {
    if (error.status !== 401) alertError(error);
    return;
  }
  const body = $('recent-body');
  body.textContent = '';
  $('recent-empty').hidden = batches.length > 0;
  $('recent-table').hidden = batches.length === 0;
  for (const b of batches) {
    const tr = document.createElement('tr');
    const fileCell = cell(tr, b.file, 'file');
    if (b.source === 'inbox') {
      // Dropped into the shared folder rather than uploaded here: its output is in the folder's out/ too.
      const from = document.createElement('span');
      from.className = 'source';
      from.textContent = ' (drop folder)';
      fileCell.appendChild(from);
    }
    const sent = b.counts.created + b.counts.exists + b.counts.conflict + b.counts.failed;
    const percent = ['queued', 'running'].includes(b.state) && b.valid > 0 ? ` (${Math.floor((100 * sent) / b.valid)}%)` : '';
    cell(tr, `${STATE_LABELS[b.state] || b.state}${percent}`, `state state-${b.state}`);
    cell(tr, count(b.rows), 'num');
    cell(tr, count(b.counts.created + b.counts.exists), 'num');
    cell(tr, count(b.counts.invalid + b.counts.duplicate + b.counts.conflict + b.counts.failed), 'num');
    cell(tr, formatTime(b.created_at), 'when');
    const actions = cell(tr, '', 'row-actions');
    const finished = ['completed', 'completed_with_errors', 'cancelled', 'failed'].includes(b.state);
    if (finished) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'link-button';
      button.textContent = 'Download';
      button.setAttribute('aria-label', `Download the output of ${b.file}`);
      button.addEventListener('click', () => download(b.id, b.file));
      actions.appendChild(button);
    }
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'link-button';
    open.textContent = b.state === 'held' ? 'Review' : 'Open';
    open.setAttribute('aria-label', `${open.textContent} ${b.file}`);
    open.addEventListener('click', () => openBatch(b.id).catch(alertError));
    actions.appendChild(open);
    body.appendChild(tr);
  }
}

function startOver() {
  if (stream) stream.abort();
  current = null;
  show('upload', 'recent');
  loadRecent();
}

// ---- wiring ----

document.addEventListener('DOMContentLoaded', () => {
  const fromUrl = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromUrl[1]));
    history.replaceState(null, '', location.pathname);
  }
  for (const id of ['preview-title', 'progress-title', 'finished-title']) $(id).tabIndex = -1;
  $('alert').tabIndex = -1;

  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    clearAlert();
    signIn($('token').value.trim());
  });
  $('sign-out').addEventListener('click', () => {
    signOut();
    note('Signed out.');
  });
  $('file').addEventListener('change', () => upload($('file').files[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    upload(event.dataTransfer.files[0]);
  });
  $('more-errors').addEventListener('click', () => moreErrors().catch(alertError));
  $('release').addEventListener('click', release);
  $('discard').addEventListener('click', discard);
  $('download').addEventListener('click', () => download(current.id, current.file));
  $('retry').addEventListener('click', retry);
  $('another').addEventListener('click', () => {
    clearAlert();
    note('');
    startOver();
  });
  $('refresh').addEventListener('click', loadRecent);

  if (token()) signIn(token());
  else show('sign-in');
});
