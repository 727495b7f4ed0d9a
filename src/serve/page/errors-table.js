// A batch's row errors, a page at a time, saying how many are shown of how many ("Showing 50 of 312").

import { batchPath, getJson } from './api.js';
import { cell, count, peopleText } from './ui.js';

const PAGE_ROWS = 50;

export class ErrorsTable {
  /** `container`: an element to fill; `label`: the id of the heading that names the table. */
  constructor(container, labelledBy) {
    this.container = container;
    this.container.textContent = '';
    const scroll = document.createElement('div');
    scroll.className = 'table-scroll';
    const table = document.createElement('table');
    table.setAttribute('aria-labelledby', labelledBy);
    table.innerHTML = '<thead><tr><th scope="col" class="num">Line</th><th scope="col">Invoice</th><th scope="col">Problem</th></tr></thead>';
    this.body = document.createElement('tbody');
    table.appendChild(this.body);
    scroll.appendChild(table);
    this.shown = document.createElement('p');
    this.shown.className = 'hint shown-count';
    this.shown.setAttribute('aria-live', 'polite');
    this.more = document.createElement('button');
    this.more.type = 'button';
    this.more.className = 'secondary';
    this.more.addEventListener('click', () => this.load());
    const foot = document.createElement('div');
    foot.className = 'table-foot';
    foot.append(this.shown, this.more);
    container.append(scroll, foot);
    this.batchId = null;
  }

  /** Starts over with a batch's errors; `total`: how many there are (null when unknown). */
  async open(batchId, total) {
    this.batchId = batchId;
    this.total = total;
    this.next = 0;
    this.rows = 0;
    this.body.textContent = '';
    await this.load();
  }

  async load() {
    if (this.next === null || this.batchId === null) return;
    this.more.disabled = true;
    try {
      const page = await getJson(batchPath(this.batchId, `/errors?from=${this.next}&limit=${PAGE_ROWS}`));
      for (const e of page.errors) {
        const tr = document.createElement('tr');
        cell(tr, String(e.line), 'num', 'Line');
        cell(tr, e.invoice_number || '(none)', 'invoice', 'Invoice');
        cell(tr, peopleText(e.message), 'problem', 'Problem');
        this.body.appendChild(tr);
      }
      this.rows += page.errors.length;
      this.next = page.next;
    } finally {
      this.more.disabled = false;
      this.render();
    }
  }

  render() {
    const total = this.total !== null && this.total >= this.rows ? this.total : null;
    const all = this.next === null;
    this.shown.textContent = all
      ? `Showing all ${count(this.rows)} ${this.rows === 1 ? 'row' : 'rows'}.`
      : total === null
        ? `Showing the first ${count(this.rows)} rows.`
        : `Showing ${count(this.rows)} of ${count(total)} rows.`;
    this.more.hidden = all;
    this.more.textContent = `Show ${PAGE_ROWS} more`;
  }
}
