// What every view shares: finding elements, showing one view, messages, and numbers as people read them.

export const $ = (id) => document.getElementById(id);

export const FINISHED_STATES = ['completed', 'completed_with_errors', 'cancelled', 'failed'];
export const STATE_LABELS = {
  submitting: 'Being stored',
  held: 'Waiting for confirmation',
  queued: 'Queued',
  running: 'Running',
  completed: 'Done',
  completed_with_errors: 'Done, with problems',
  cancelled: 'Cancelled',
  failed: 'Stopped',
};

/**
 * Shows the view sections named (each `<section class="view">` is one step:
 * a new step is a new section and a module), hides the others; the recent
 * batches show under every view but the sign-in.
 */
export function show(...ids) {
  for (const section of document.querySelectorAll('main section.view')) section.hidden = !ids.includes(section.id);
  $('recent').hidden = ids.includes('sign-in');
  $('sign-out').hidden = ids.includes('sign-in');
  $('find-form').hidden = ids.includes('sign-in');
  if (ids.includes('sign-in')) $('found').hidden = true;
}

/**
 * A message of paylinks in words for this page: the command line's flags
 * (`--columns`, `--sheet`...) become the choices under "How to read this file".
 */
export function peopleText(message) {
  return String(message)
    .replace(/^(.+?):(\d+): /, '$1, line $2: ')
    .replace(/--columns names the (.+?) column ("[^"]*"), but the header line has no column by that name\./, 'The $1 column you chose, $2, is not in the header line.')
    .replace(/ ?Name the column with --columns \w+="<header>"\./, ' Choose the column below.')
    .replace(/or name the one to use with --columns \w+="<header>"/, 'or choose the one to use below')
    .replace(/Name the columns with --columns\./, 'Choose the columns below.')
    .replace(/Name it with --delimiter\./, 'Choose how the values are separated below.')
    .replace(/Pick one with --sheet NAME or --sheet NUMBER\.?/, 'Choose the sheet below.')
    .replace(/state it with --decimal point or --decimal comma/, 'choose the decimal mark with "Read it differently"')
    .replace(/ \(--decimal (point|comma)\)/, ' (the decimal mark you chose)')
    .replace(/--(columns|sheet|delimiter|decimal)\b[^.;)]*/g, 'the choices under "Read it differently"');
}

export function alertError(error) {
  let text = peopleText(error.message);
  if (error.status === 422) text = `This file cannot be used. ${text}`;
  $('alert').textContent = text;
  $('alert').hidden = false;
  $('alert').focus();
}

export function clearAlert() {
  $('alert').hidden = true;
  $('alert').textContent = '';
}

export function note(text) {
  $('note').textContent = text;
}

/** "1234567.89" → "1,234,567.89" (strings only: amounts never go through a float). */
export function money(decimal) {
  const [whole, fraction] = String(decimal).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** The sum of decimal strings with two places, through integer cents. */
export function addMoney(...decimals) {
  const cents = decimals.reduce((sum, d) => sum + BigInt(String(d).replace('.', '')), 0n);
  const text = cents.toString().padStart(3, '0');
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
}

export const count = (n) => Number(n).toLocaleString('en-US');
export const plural = (n, one, many) => `${count(n)} ${n === 1 ? one : many}`;

export function formatTime(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function duration(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Appends a cell; `label` names it where a narrow screen shows rows as cards. */
export function cell(row, text, className, label) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  if (label) td.dataset.label = label;
  row.appendChild(td);
  return td;
}

export function linkButton(text, ariaLabel, onClick) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'link-button';
  button.textContent = text;
  if (ariaLabel) button.setAttribute('aria-label', ariaLabel);
  button.addEventListener('click', onClick);
  return button;
}

/** A figure of a `<dl class="figures">`. */
export function figure(dl, label, value, className, detail) {
  const div = document.createElement('div');
  if (className) div.className = className;
  const dt = document.createElement('dt');
  dt.textContent = label;
  const dd = document.createElement('dd');
  dd.textContent = value;
  div.append(dt, dd);
  if (detail) {
    const small = document.createElement('p');
    small.className = 'figure-detail';
    small.textContent = detail;
    div.appendChild(small);
  }
  dl.appendChild(div);
}
