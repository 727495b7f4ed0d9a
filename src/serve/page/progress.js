// Step 3: live progress of a running batch (a stream of events), with a cancel that asks first.

import { api, batchPath, getJson } from './api.js';
import { openBatch, startOver } from './flow.js';
import { showFinished } from './finished.js';
import { loadRecent } from './recent.js';
import { $, alertError, clearAlert, count, duration, note, plural, show } from './ui.js';

let stream = null; // AbortController of the progress stream
let lastRecent = 0; // when the recent batches were last loaded
let watching = null; // id of the batch on screen

export function stopWatching() {
  if (stream) stream.abort();
  stream = null;
  watching = null;
}

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
  if (Date.now() - lastRecent > 2000) {
    lastRecent = Date.now();
    loadRecent();
  }
}

export async function watch(batch) {
  show('progress');
  askCancel(false);
  lastRecent = 0;
  renderProgress(batch);
  $('progress-title').focus();
  if (stream) stream.abort();
  const controller = new AbortController();
  stream = controller;
  watching = batch.id;
  try {
    const response = await api(batchPath(batch.id, '/events'), { signal: controller.signal });
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
        if (event[1] === 'finished') return showFinished(await getJson(batchPath(batch.id)).catch(() => payload));
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

function askCancel(asking) {
  $('cancel-ask').hidden = asking;
  $('cancel-confirm').hidden = !asking;
  if (asking) $('cancel-no').focus();
}

async function cancel() {
  clearAlert();
  $('cancel-yes').disabled = true;
  try {
    const result = await getJson(batchPath(watching, '/cancel'), { method: 'POST' });
    note(result.state === 'cancelled' ? `Cancelled: ${plural(result.cancelled_rows, 'invoice was', 'invoices were')} not sent.` : 'The batch had already finished.');
    // The stream reports the end; a finished batch is shown as such.
    if (result.state !== 'cancelled') await openBatch(watching);
  } catch (error) {
    alertError(error);
  } finally {
    $('cancel-yes').disabled = false;
    askCancel(false);
  }
}

export function wireProgress() {
  $('cancel').addEventListener('click', () => askCancel(true));
  $('cancel-no').addEventListener('click', () => {
    askCancel(false);
    $('cancel').focus();
  });
  $('cancel-yes').addEventListener('click', cancel);
}
