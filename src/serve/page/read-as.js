// "How to read this file": the columns (from the header found), the decimal mark, the delimiter and
// the sheet, chosen on the page rather than with command-line flags; then the file is checked again.

import { api, batchPath } from './api.js';
import { lastUpload, upload } from './upload.js';
import { startOver } from './flow.js';
import { $, alertError, clearAlert, peopleText, show } from './ui.js';

const DELIMITER_VALUES = { ',': ',', ';': ';', '\t': 'tab', '|': '|' };

function fill(select, first, values, chosen) {
  select.textContent = '';
  const options = [[first, ''], ...values.map((v) => [v, v])];
  for (const [label, value] of options) {
    const option = document.createElement('option');
    option.value = value;
    option.textContent = label;
    // A name with a comma cannot be named in `columns` (commas separate its parts).
    if (value.includes(',')) {
      option.disabled = true;
      option.textContent = `${label} (rename it: a comma in a column name)`;
    }
    select.appendChild(option);
  }
  select.value = values.includes(chosen) ? chosen : '';
}

/** The column a `columns` option names for `role`, if any. */
function named(columns, role) {
  const match = new RegExp(`${role}="([^"]*)"`).exec(columns || '');
  return match ? match[1] : '';
}

/**
 * Opens the form for `fileName`. `found`: what the server found ({headers, delimiter, sheets,
 * sheet, format, decimal}); `options`: how it was read; `error`: the file error that brought us here
 * (none when the person asked from the preview).
 */
export function showReadAs(fileName, found, options, error, heldBatchId) {
  show('read-as');
  $('read-as-file').textContent = fileName;
  const headers = found.headers || [];
  const problem = error ? peopleText(error.message).replace(/^[^,]+, line \d+: /, '') : '';
  $('read-as-intro').textContent = error
    ? `${problem.charAt(0).toUpperCase()}${problem.slice(1)} Choose how to read the file, then check it again: nothing is sent until you confirm.`
    : 'Choose how to read the file, then check it again: nothing is sent until you confirm.';
  $('field-invoice').hidden = headers.length === 0;
  $('field-amount').hidden = headers.length === 0;
  fill($('read-invoice'), 'Found by its name', headers, named(options.columns, 'invoice') || found.invoice || '');
  fill($('read-amount'), 'Found by its name', headers, named(options.columns, 'amount') || found.amount || '');
  const workbook = found.format === 'workbook' || Array.isArray(found.sheets);
  $('field-delimiter').hidden = workbook;
  $('read-delimiter').value = options.delimiter || '';
  $('field-sheet').hidden = !workbook || !found.sheets || found.sheets.length < 2;
  fill($('read-sheet'), 'The first sheet', found.sheets || [], options.sheet || found.sheet || '');
  $('read-decimal').value = options.decimal || '';
  readAs.heldBatchId = heldBatchId || null;
  readAs.description = named(options.columns, 'description');
  $('read-as-title').focus();
}

const readAs = { heldBatchId: null, description: '' };

async function checkAgain(event) {
  event.preventDefault();
  clearAlert();
  if (!lastUpload) return;
  const columns = [];
  if ($('read-invoice').value) columns.push(`invoice="${$('read-invoice').value}"`);
  if ($('read-amount').value) columns.push(`amount="${$('read-amount').value}"`);
  if (readAs.description) columns.push(`description="${readAs.description}"`);
  const options = {
    columns: columns.join(','),
    decimal: $('read-decimal').value,
    delimiter: $('field-delimiter').hidden ? '' : $('read-delimiter').value,
    sheet: $('field-sheet').hidden ? '' : $('read-sheet').value,
  };
  // The held upload of the same file would be picked up again as it was: drop it first (nothing of it was sent).
  if (readAs.heldBatchId) {
    try {
      await api(batchPath(readAs.heldBatchId), { method: 'DELETE' });
    } catch (error) {
      if (error.status !== 404) return alertError(error);
    }
    readAs.heldBatchId = null;
  }
  await upload(lastUpload.file, options);
}

export function wireReadAs() {
  $('read-as-form').addEventListener('submit', checkAgain);
  $('read-as-other').addEventListener('click', () => {
    clearAlert();
    startOver();
  });
}

/** Reading again needs the file itself: only for a file uploaded from this tab. */
export function canReadAgain(batch) {
  return Boolean(lastUpload && lastUpload.file.name === batch.file && batch.read_as);
}

/** Opens the form for a batch read from the last upload (`heldBatchId`: the held batch to drop first). */
export function readAgain(batch, heldBatchId) {
  const r = batch.readAs;
  const name = (i) => `"${r.headers[i]}"`;
  const options = {
    columns: `invoice=${name(r.invoice_column)},amount=${name(r.amount_column)}${r.description_column === null ? '' : `,description=${name(r.description_column)}`}`,
    decimal: lastUpload.options.decimal || '',
    delimiter: lastUpload.options.delimiter || '',
    sheet: lastUpload.options.sheet || '',
  };
  const found = { headers: r.headers, format: r.format, sheet: r.sheet, delimiter: DELIMITER_VALUES[r.delimiter] };
  showReadAs(batch.file, found, options, null, heldBatchId);
}
