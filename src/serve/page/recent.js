// The recent batches, under every step: which file, from where, when, what it made, what is left.

import { getJson } from './api.js';
import { download } from './finished.js';
import { showCollection } from './collection.js';
import { openBatch } from './flow.js';
import { $, addMoney, alertError, cell, count, FINISHED_STATES, formatTime, linkButton, money, plural, STATE_LABELS } from './ui.js';

const SOURCES = { inbox: 'drop folder', api: 'uploaded', null: 'command line' };

export async function loadRecent() {
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
    const fileCell = cell(tr, b.file, 'file', 'File');
    const from = document.createElement('span');
    from.className = 'source';
    // Dropped into the shared folder rather than uploaded here: its output is in the folder's out/ too.
    from.textContent = `${b.source === 'inbox' ? ' (drop folder)' : ` · ${SOURCES[b.source] || b.source}`}, ${formatTime(b.created_at)}`;
    fileCell.appendChild(from);
    if (b.simulated) {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'Simulated';
      fileCell.append(' ', tag);
    }
    const sent = b.counts.created + b.counts.exists + b.counts.conflict + b.counts.failed;
    const percent = ['queued', 'running'].includes(b.state) && b.valid > 0 ? ` (${Math.floor((100 * sent) / b.valid)}%)` : '';
    cell(tr, `${STATE_LABELS[b.state] || b.state}${percent}`, `state state-${b.state}`, 'State');
    cell(tr, count(b.rows), 'num', 'Rows');
    if (b.state === 'held') {
      // Nothing was sent: say what waits for the confirmation rather than "0 new links".
      const waiting = cell(tr, heldText(b), 'held-note');
      waiting.colSpan = 3;
    } else {
      cell(tr, count(b.counts.created), 'num', 'New links');
      cell(tr, count(b.counts.exists), 'num', 'Had a link');
      cell(tr, money(addMoney(b.amount_created, b.amount_exists)), 'num amount', 'Amount linked');
    }
    cell(tr, count(b.counts.invalid + b.counts.duplicate + b.counts.conflict + b.counts.failed), 'num', 'Problems');
    const actions = cell(tr, '', 'row-actions');
    if (FINISHED_STATES.includes(b.state)) {
      actions.appendChild(linkButton('Payments', `Who paid: ${b.file}`, () => showCollection(b).catch(alertError)));
      actions.appendChild(linkButton('Download', `Download the output of ${b.file}`, () => download(b.id, b.file)));
    }
    const verb = b.state === 'held' ? 'Review' : 'Open';
    actions.appendChild(linkButton(verb, `${verb} ${b.file}`, () => openBatch(b.id).catch(alertError)));
    body.appendChild(tr);
  }
}

/** A held batch: its valid invoices and their total wait for the confirmation (nothing sent yet). */
function heldText(b) {
  const total = b.total_amount === null ? '' : ` for ${money(b.total_amount)}`;
  return `Nothing sent yet: ${plural(b.valid, 'invoice', 'invoices')}${total} ${b.valid === 1 ? 'waits' : 'wait'} for your confirmation.`;
}

export function wireRecent() {
  $('refresh').addEventListener('click', loadRecent);
}
