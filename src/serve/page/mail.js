// Step 5: sending a finished batch's links to its customers. First what a send would do: how many
// messages, the rows left out and why, and the exact message one customer gets (its HTML in a
// sandboxed frame, its plain text); then a confirm; then how far the sending got, and the bounces.

import { batchPath, getJson } from './api.js';
import { $, alertError, clearAlert, count, figure, note, plural, show } from './ui.js';

const POLL_MS = 1000;

/** Why a row gets no message, in words. */
const SKIPPED = {
  'no-link': 'No payment link',
  'no-address': 'No e-mail address',
  'invalid-address': 'E-mail address not valid',
  'already-sent': 'Already e-mailed',
  paid: 'Paid already',
  closed: 'Link expired or closed',
};

let current = null; // { id, file }
let poll = null;
let back = () => {};

function stopPolling() {
  if (poll) clearTimeout(poll);
  poll = null;
}

/** Shows the send step of a finished batch; `onBack` returns to the batch. */
export async function showMail(batch, onBack) {
  stopPolling();
  current = { id: batch.id, file: batch.file };
  back = onBack;
  clearAlert();
  note('');
  show('mail');
  $('mail-file').textContent = batch.file;
  $('mail-simulated').hidden = !batch.simulated;
  askSend(false);
  $('mail-sending').hidden = true;
  $('mail-plan').hidden = true;
  $('mail-title').focus();
  await loadPreview();
}

async function loadPreview() {
  const id = current.id;
  let preview;
  try {
    preview = await getJson(batchPath(id, '/mail/preview'));
  } catch (error) {
    if (current?.id !== id) return;
    $('mail-plan').hidden = false;
    $('mail-counts').textContent = '';
    $('mail-sample').hidden = true;
    $('mail-ask').hidden = true;
    alertError(error);
    return;
  }
  if (current?.id !== id) return;
  renderPlan(preview);
  const p = preview.progress;
  if (p.sent + p.failed + p.bounced.length + p.unknown + p.queued > 0) startPolling(p);
}

function renderPlan(preview) {
  $('mail-plan').hidden = false;
  $('mail-off').hidden = preview.configured;
  const dl = $('mail-counts');
  dl.textContent = '';
  figure(dl, 'Will be e-mailed', count(preview.willSend), preview.willSend > 0 ? 'good' : undefined);
  for (const [reason, n] of Object.entries(preview.skipped)) {
    if (n > 0) figure(dl, SKIPPED[reason] || reason, count(n), reason === 'invalid-address' ? 'problem' : undefined);
  }
  $('mail-none').hidden = preview.willSend > 0;
  renderSample(preview.sample);
  $('mail-ask').hidden = false;
  $('mail-send').hidden = preview.willSend === 0;
  $('mail-send').disabled = !preview.configured;
  $('mail-send').textContent = `Send ${plural(preview.willSend, 'message', 'messages')}…`;
  $('mail-confirm-count').textContent = plural(preview.willSend, 'e-mail', 'e-mails');
}

function renderSample(sample) {
  $('mail-sample').hidden = sample === null;
  if (sample === null) return;
  const to = sample.toName ? `${sample.toName} <${sample.to}>` : sample.to;
  $('mail-sample-invoice').textContent = sample.invoiceNumber;
  $('mail-from').textContent = sample.from || '(not set: PAYLINKS_MAIL_FROM)';
  $('mail-reply-to').textContent = sample.replyTo || '';
  $('mail-reply-to-row').hidden = !sample.replyTo;
  $('mail-to').textContent = to;
  $('mail-subject').textContent = sample.subject;
  $('mail-text').textContent = sample.text;
  showHtml(sample.html);
}

/**
 * The HTML body in a frame that runs no script, submits no form and navigates nowhere (sandbox
 * without allow-scripts). The page's security policy forbids inline styles, and the frame inherits
 * it: the message's style attributes are applied here through the CSS object model instead, so the
 * preview looks as the customer's mail program shows it.
 */
function showHtml(html) {
  const frame = $('mail-frame');
  frame.onload = () => {
    const doc = frame.contentDocument;
    if (!doc) return;
    for (const el of doc.querySelectorAll('[style]')) el.style.cssText = el.getAttribute('style');
    const sheets = [];
    for (const style of doc.querySelectorAll('style')) {
      const sheet = new frame.contentWindow.CSSStyleSheet();
      try {
        sheet.replaceSync(style.textContent);
        sheets.push(sheet);
      } catch {
        // a style block the browser cannot read: left out of the preview
      }
    }
    doc.adoptedStyleSheets = sheets;
    frame.style.height = `${Math.min(Math.max(doc.documentElement.scrollHeight, 200), 2000)}px`;
  };
  frame.srcdoc = html;
}

function askSend(open) {
  $('mail-confirm').hidden = !open;
  $('mail-ask').hidden = open;
  if (open) $('mail-send-yes').focus();
}

async function send() {
  clearAlert();
  const id = current.id;
  $('mail-send-yes').disabled = true;
  try {
    const result = await getJson(batchPath(id, '/mail/send'), { method: 'POST' });
    askSend(false);
    // The plan was before the send: what counts now is the progress below.
    $('mail-plan').hidden = true;
    note(`${plural(result.queued, 'message', 'messages')} queued.`);
    startPolling({ queued: result.queued, sent: 0, failed: 0, bounced: [], unknown: 0 });
  } catch (error) {
    alertError(error);
  } finally {
    $('mail-send-yes').disabled = false;
  }
}

function renderProgress(p) {
  $('mail-sending').hidden = false;
  const done = p.sent + p.failed + p.bounced.length + p.unknown;
  const total = done + p.queued;
  $('mail-bar').max = Math.max(total, 1);
  $('mail-bar').value = done;
  $('mail-progress-text').textContent = p.queued > 0 ? `${count(p.sent)} of ${plural(total, 'message', 'messages')} sent` : `Finished: ${plural(p.sent, 'message', 'messages')} sent`;
  const parts = [];
  if (p.bounced.length > 0) parts.push(`${plural(p.bounced.length, 'bounce', 'bounces')}`);
  if (p.failed > 0) parts.push(`${plural(p.failed, 'message', 'messages')} failed after retries`);
  if (p.unknown > 0) parts.push(`${plural(p.unknown, 'message', 'messages')} with no answer from the mail server (not sent again; check with the customer)`);
  if (p.queued > 0) parts.push(`${count(p.queued)} waiting`);
  $('mail-progress-detail').textContent = parts.join(' · ') || 'no bounces so far';
  const body = $('mail-bounces-body');
  body.textContent = '';
  for (const b of p.bounced) {
    const tr = document.createElement('tr');
    for (const [text, label] of [[b.invoiceNumber, 'Invoice'], [b.reply, "Mail server's reply"]]) {
      const td = document.createElement('td');
      td.textContent = text;
      td.dataset.label = label;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  $('mail-bounces').hidden = p.bounced.length === 0;
}

function startPolling(progress) {
  stopPolling();
  renderProgress(progress);
  if (progress.queued === 0) return;
  const id = current.id;
  const tick = async () => {
    poll = null;
    if (current?.id !== id || $('mail').hidden) return;
    try {
      const p = await getJson(batchPath(id, '/mail'));
      if (current?.id !== id) return;
      renderProgress(p);
      if (p.queued === 0) return;
    } catch (error) {
      if (error.status === 401) return;
    }
    poll = setTimeout(tick, POLL_MS);
  };
  poll = setTimeout(tick, POLL_MS);
}

export function wireMail() {
  $('mail-send').addEventListener('click', () => askSend(true));
  $('mail-send-no').addEventListener('click', () => askSend(false));
  $('mail-send-yes').addEventListener('click', send);
  $('mail-back').addEventListener('click', () => {
    stopPolling();
    back();
  });
}
