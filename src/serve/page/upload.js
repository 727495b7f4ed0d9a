// Step 1: choose a file. It is uploaded held (stored and checked, nothing sent); a file error that a
// choice can fix (a column, the delimiter, the sheet) opens "How to read this file".

import { getJson } from './api.js';
import { openBatch } from './flow.js';
import { showReadAs } from './read-as.js';
import { $, alertError, clearAlert, note, show } from './ui.js';

/** The file on screen and how it was read, to read it again differently (null for a batch reopened from the list). */
export let lastUpload = null;

export function showUpload() {
  show('upload');
}

/** Uploads `file` held, read with `options` ({columns, delimiter, decimal, sheet}, each optional). */
export async function upload(file, options = {}) {
  clearAlert();
  if (!file) return;
  lastUpload = { file, options };
  const form = new FormData();
  for (const [name, value] of Object.entries(options)) if (value) form.append(name, value);
  form.append('file', file, file.name);
  $('drop').classList.add('busy');
  $('drop').setAttribute('aria-busy', 'true');
  $('read-as-check').disabled = true;
  note(`Uploading and checking ${file.name}…`);
  try {
    const result = await getJson('/api/batches?hold=true', { method: 'POST', body: form });
    note('');
    await openBatch(result.batch_id);
  } catch (error) {
    note('');
    if (error.status === 422 && error.found) showReadAs(file.name, error.found, options, error);
    else alertError(error);
  } finally {
    $('drop').classList.remove('busy');
    $('drop').removeAttribute('aria-busy');
    $('read-as-check').disabled = false;
    $('file').value = '';
  }
}

export function wireUpload() {
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
}
