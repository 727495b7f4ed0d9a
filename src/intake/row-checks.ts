/**
 * The row checks: one data record against the Paywint contract and the traps
 * of spreadsheet exports, giving a valid record (invoice number, amount in
 * cents, description) or the reason it will not be sent.
 *
 * - A row has one error code: the first problem in the order: a totals line
 *   (`SUMMARY_ROW`), the header again (`HEADER_ROW`), a hidden workbook row,
 *   more values than columns (`TOO_MANY_FIELDS`), the invoice number
 *   (error value, missing, scientific notation, a whole number written as a
 *   decimal, too long, duplicate: compared by invoiceKey) → the currency
 *   (a currency column that says anything but USD) → the amount → the
 *   description.
 * - Cells: every cell of the record as read (not trimmed), one per column: a
 *   record shorter than the header is padded with `''`; cells beyond the
 *   header's width are dropped (non-empty ones make the row
 *   `TOO_MANY_FIELDS`, whose message quotes them), so the output's result
 *   columns line up.
 * - Decimal marks are decided per file ({@link RowChecker}): the first amount
 *   that can only be read one way (`12,50`, `1,234.56`) decides, unless
 *   `--decimal` said it. An amount that reads both ways (`1,234`) waits for
 *   that decision; with none in the whole file it is `AMBIGUOUS_AMOUNT`.
 */
import type { ColumnLayout } from './columns.js';
import type { RowErrorCode } from '../core/errors.js';
import { duplicateMessage, earlierLineOf, type FirstLines } from './duplicate-invoices.js';
import { plainAmountCents, readAmount, roundDecimal, type DecimalMark } from '../core/money.js';
import { nonUsdCurrency } from '../core/currency.js';
import { quoteValue } from '../core/quote.js';
import type { RawRecord } from './record-reader.js';
import { CellKind, columnName } from './workbook.js';

/** Paywint's limit on `invoice_number`, in characters. */
export const MAX_INVOICE_NUMBER_LENGTH = 20;
/** Paywint's limit on `description`, in characters. */
export const MAX_DESCRIPTION_LENGTH = 255;

/**
 * What a totals line puts where the invoice number belongs: `Total`,
 * `Subtotal:`, `GRAND TOTAL`, `Totals`, `Sum`, also followed by words
 * (`Total due`, `Total: March`), but not joined to more (`TOTAL-7` is an invoice number).
 */
const SUMMARY_LABEL = /^(?:sub[\s-]?total|grand[\s-]?total|totals?|sum)(?:\s*:|\s|$)/i;
/** A spreadsheet's error value, as a CSV export writes it: Excel's `#N/A`, `#REF!`, `#DIV/0!`…, LibreOffice's `Err:502`. */
const ERROR_VALUE = /^(?:#(?:N\/A|REF!|DIV\/0!|VALUE!|NAME\?|NUM!|NULL!|SPILL!|CALC!|FIELD!|BLOCKED!|CONNECT!|UNKNOWN!|GETTING_DATA)|Err:\d{3})$/i;
/** A number as a spreadsheet displays it in scientific format: `1.23E+11`, `4,5E+03`. */
const SCIENTIFIC = /^\d+(?:[.,]\d+)?E[+-]\d+$/i;
/** A whole number written as a decimal, `123.0` or `123,00`: a spreadsheet (or a script) read the invoice number as a number. */
const WHOLE_AS_DECIMAL = /^\d+[.,]0+$/;

export type IntakeRecord =
  | {
      index: number;
      line: number;
      cells: string[];
      status: 'valid';
      invoiceNumber: string;
      amountCents: number;
      description: string | null;
    }
  | {
      index: number;
      line: number;
      cells: string[];
      status: 'invalid' | 'duplicate';
      invoiceNumber: string;
      code: RowErrorCode;
      message: string;
    };

/** A record whose amount reads two ways, waiting for the file's decimal mark (see {@link RowChecker.settle}). */
export interface PendingRecord {
  status: 'pending';
  raw: RawRecord;
  index: number;
  invoiceNumber: string;
}

/**
 * Checks the records of one file in order, keeping what the file decides as
 * it goes: the invoice numbers seen (duplicates) and the decimal mark.
 */
export class RowChecker {
  readonly #layout: ColumnLayout;
  readonly #firstLine: FirstLines;
  /** The header's invoice-number and amount cells, lower case: a row that repeats them is the header again. */
  readonly #headerInvoice: string;
  readonly #headerAmount: string;
  #mark: DecimalMark | undefined;
  /** Why the mark is what it is, for messages: ` (--decimal comma)`, ` (line 3: "12,50")`. */
  #because = '';

  /**
   * `decimal`: the file's decimal mark when the user stated it (`--decimal`).
   * `firstLines`: the invoice numbers' first lines, shared with another read of the same file (see FirstLines).
   */
  constructor(layout: ColumnLayout, decimal?: DecimalMark, firstLines: FirstLines = new Map()) {
    this.#layout = layout;
    this.#firstLine = firstLines;
    this.#headerInvoice = (layout.headers[layout.invoice] ?? '').toLowerCase();
    this.#headerAmount = (layout.headers[layout.amount] ?? '').toLowerCase();
    if (decimal !== undefined) {
      this.#mark = decimal;
      this.#because = ` (--decimal ${decimal})`;
    }
  }

  /** The file's decimal mark as far as the records checked so far tell. */
  get decimal(): DecimalMark | undefined {
    return this.#mark;
  }

  /**
   * Checks one record. Pads `raw.cells` with `''` to the header's width. A
   * `pending` result waits for the decimal mark: pass it to {@link settle}
   * once {@link decimal} is known, or at the end of the file.
   */
  check(raw: RawRecord, index: number): IntakeRecord | PendingRecord {
    const { line, cells, sheet } = raw;
    const layout = this.#layout;
    const width = layout.headers.length;
    let extra = -1;
    for (let i = width; i < cells.length; i++) {
      if (cells[i]!.trim() !== '') {
        extra = i;
        break;
      }
    }
    for (let i = cells.length; i < width; i++) cells.push('');
    if (extra === -1 && cells.length > width) cells.length = width;

    const invoiceNumber = cells[layout.invoice]!.trim();
    if (mayBeSummary(invoiceNumber) && SUMMARY_LABEL.test(invoiceNumber)) {
      return problem(index, line, cells, invoiceNumber, 'SUMMARY_ROW', `this is a totals line ("${invoiceNumber}"), not an invoice: it is not sent. Delete it from the file to silence this`);
    }
    if (
      invoiceNumber.length === this.#headerInvoice.length &&
      invoiceNumber.toLowerCase() === this.#headerInvoice &&
      cells[layout.amount]!.trim().toLowerCase() === this.#headerAmount
    ) {
      return problem(index, line, cells, invoiceNumber, 'HEADER_ROW', 'this row repeats the header line: it is not an invoice and is not sent');
    }
    const invoiceKind = kindOf(raw, layout.invoice);
    const invoiceBroken = invoiceKind === CellKind.error || invoiceKind === CellKind.uncalculated;
    // Noted before the other checks: a row that is not sent still makes its repeats duplicates.
    const earlier = invoiceNumber === '' || invoiceBroken ? undefined : earlierLineOf(this.#firstLine, invoiceNumber, line);

    if (sheet?.hidden === true) {
      return problem(index, line, cells, invoiceNumber, 'ROW_HIDDEN', 'this row is hidden in the sheet (by hand or by a filter), so it is not sent. Unhide it to send it, or delete it');
    }
    if (extra !== -1) {
      const message = this.#tooManyFields(cells, extra, sheet !== undefined);
      // The output keeps one cell per column; the message carries what lies beyond.
      cells.length = width;
      return problem(index, line, cells, invoiceNumber, 'TOO_MANY_FIELDS', message);
    }
    if (invoiceBroken) return problem(index, line, cells, invoiceNumber, 'CELL_ERROR', cellErrorMessage(raw, layout.invoice, 'invoice number'));
    if (invoiceNumber === '') return problem(index, line, cells, invoiceNumber, 'MISSING_INVOICE_NUMBER', 'the invoice number is empty');
    if (invoiceKind === CellKind.text && isDigit(invoiceNumber.charCodeAt(0)) && SCIENTIFIC.test(invoiceNumber)) {
      return problem(
        index,
        line,
        cells,
        invoiceNumber,
        'INVOICE_NUMBER_SCIENTIFIC',
        `the invoice number "${invoiceNumber}" is a number as a spreadsheet displays it in scientific format: its digits are lost. ` +
          'Format the column as text (or as a plain number) and save the file again, or give paylinks the workbook itself',
      );
    }
    if (invoiceKind === CellKind.text && isDigit(invoiceNumber.charCodeAt(0)) && WHOLE_AS_DECIMAL.test(invoiceNumber)) {
      return problem(
        index,
        line,
        cells,
        invoiceNumber,
        'INVOICE_NUMBER_DECIMAL',
        `the invoice number "${invoiceNumber}" looks like a number that a spreadsheet turned into a decimal: is it ${invoiceNumber.replace(/[.,]0+$/, '')}? ` +
          'Format the column as text and save the file again (or fix the number), so that the invoice number is sent as it is on the invoice',
      );
    }
    const invoiceLength = characters(invoiceNumber, MAX_INVOICE_NUMBER_LENGTH);
    if (invoiceLength > MAX_INVOICE_NUMBER_LENGTH) {
      return problem(index, line, cells, invoiceNumber, 'INVOICE_NUMBER_TOO_LONG', `the invoice number is ${invoiceLength} characters long; Paywint accepts at most ${MAX_INVOICE_NUMBER_LENGTH}`);
    }
    if (earlier !== undefined) return problem(index, line, cells, invoiceNumber, 'DUPLICATE_INVOICE', duplicateMessage(earlier));
    if (layout.currency !== undefined && layout.currency !== null) {
      const currency = nonUsdCurrency(cells[layout.currency]!);
      if (currency !== undefined) {
        return problem(
          index,
          line,
          cells,
          invoiceNumber,
          'CURRENCY_NOT_USD',
          `the currency is ${quoteValue(currency)}, not US dollars (USD): Paywint charges USD only, and paylinks never converts, so this row is not sent`,
        );
      }
    }
    return this.#amountAndDescription(raw, index, invoiceNumber, false);
  }

  /** Finishes a pending record with the decimal mark as now known (an `AMBIGUOUS_AMOUNT` error if it is still not). */
  settle(pending: PendingRecord): IntakeRecord {
    return this.#amountAndDescription(pending.raw, pending.index, pending.invoiceNumber, true) as IntakeRecord;
  }

  #amountAndDescription(raw: RawRecord, index: number, invoiceNumber: string, final: boolean): IntakeRecord | PendingRecord {
    const { line, cells, sheet } = raw;
    const layout = this.#layout;
    const amountText = cells[layout.amount]!;
    const amountKind = kindOf(raw, layout.amount);
    let amountCents = -1;
    switch (amountKind) {
      case CellKind.error:
      case CellKind.uncalculated:
        return problem(index, line, cells, invoiceNumber, 'CELL_ERROR', cellErrorMessage(raw, layout.amount, 'amount'));
      case CellKind.date:
      case CellKind.boolean:
        return problem(index, line, cells, invoiceNumber, 'INVALID_AMOUNT', `the amount cell holds ${amountKind === CellKind.date ? 'a date' : 'a true/false value'} (${amountText}), not an amount`);
      case CellKind.number: {
        // The exact value the cell holds, whatever the format shows.
        amountCents = plainAmountCents(amountText);
        if (amountCents !== -1) break;
        const amount = readAmount(amountText, 'point');
        if (!amount.ok) {
          if (amount.code !== 'AMOUNT_TOO_PRECISE') return problem(index, line, cells, invoiceNumber, amount.code, amount.message);
          const shown = sheet!.shown[layout.amount] ?? -1;
          const display = shown >= 0 ? `the sheet shows ${roundDecimal(amountText, shown)} but the cell holds ${amountText}` : `the cell holds ${amountText}`;
          return problem(
            index,
            line,
            cells,
            invoiceNumber,
            'AMOUNT_TOO_PRECISE',
            `${display}: more than two decimals, and paylinks never rounds money. Round it in the sheet (e.g. =ROUND(${columnName(layout.amount)}${line}, 2)) or type the amount`,
          );
        }
        amountCents = amount.cents;
        break;
      }
      default: {
        const split = this.#splitAmount(cells, raw.sheet !== undefined);
        if (split !== undefined) return problem(index, line, cells, invoiceNumber, 'INVALID_AMOUNT', split);
        if (this.#mark !== 'comma') amountCents = plainAmountCents(amountText);
        if (amountCents !== -1) {
          if (this.#mark === undefined && amountText.includes('.')) this.#decide('point', line, amountText);
          break;
        }
        const amount = readAmount(amountText, this.#mark, this.#because);
        if (!amount.ok) {
          if (amount.code === 'AMBIGUOUS_AMOUNT' && !final) return { status: 'pending', raw, index, invoiceNumber };
          return problem(index, line, cells, invoiceNumber, amount.code, amount.message);
        }
        if (amount.mark !== null && this.#mark === undefined) this.#decide(amount.mark, line, amountText);
        amountCents = amount.cents;
      }
    }

    let description: string | null = null;
    if (layout.description !== null) {
      const kind = kindOf(raw, layout.description);
      if (kind === CellKind.error || kind === CellKind.uncalculated) {
        return problem(index, line, cells, invoiceNumber, 'CELL_ERROR', cellErrorMessage(raw, layout.description, 'description'));
      }
      description = cells[layout.description]!.trim();
      if (description === '') description = null;
      else {
        const length = characters(description, MAX_DESCRIPTION_LENGTH);
        if (length > MAX_DESCRIPTION_LENGTH) {
          return problem(index, line, cells, invoiceNumber, 'DESCRIPTION_TOO_LONG', `the description is ${length} characters long; Paywint accepts at most ${MAX_DESCRIPTION_LENGTH}`);
        }
      }
    }
    return { index, line, cells, status: 'valid', invoiceNumber, amountCents, description };
  }

  /**
   * `B-1,1,234.56` under `invoice_number,amount,description`: as many values
   * as columns, but the amount is `1` and the description `234.56`. An
   * unquoted thousands separator split the amount; a description that is
   * only a number's last digits gives it away.
   */
  #splitAmount(cells: string[], workbook: boolean): string | undefined {
    const { amount, description, delimiter } = this.#layout;
    if (workbook || delimiter !== ',' || description !== amount + 1) return undefined;
    const head = cells[amount]!.trim();
    if (head.length > 4) return undefined;
    const tail = cells[description]!.trim();
    if (!/^\$?\d{1,3}$/.test(head) || !/^\d{3}(?:,\d{3})*(?:\.\d{1,2})?$/.test(tail)) return undefined;
    return (
      `the amount "${head}" is followed by "${tail}" as the description: this looks like ${head},${tail} split by an unquoted comma (a thousands separator). ` +
      `Put the amount in quotes ("${head},${tail}") or write it without the separator`
    );
  }

  #decide(mark: DecimalMark, line: number, text: string): void {
    this.#mark = mark;
    this.#because = ` (as line ${line} shows: "${text.trim()}")`;
  }

  #tooManyFields(cells: string[], extra: number, workbook: boolean): string {
    const width = this.#layout.headers.length;
    if (workbook) {
      return `this row has a value in column ${columnName(extra)} ("${cells[extra]!.trim()}"), which has no header, so it cannot be matched to a column. Give that column a header, or clear the cell`;
    }
    let values = cells.length;
    while (values > width && cells[values - 1]!.trim() === '') values--;
    const beyond = cells.slice(width, values).map((c) => JSON.stringify(c.trim())).join(', ');
    const delimiter = this.#layout.delimiter;
    const name = delimiter === ',' ? 'comma' : delimiter === ';' ? 'semicolon' : delimiter === '\t' ? 'tab' : `"${delimiter}"`;
    const cause =
      delimiter === ','
        ? 'a value holds an unquoted comma: a thousands separator (1,234.56) or a comma in a text'
        : `a value holds an unquoted ${name}`;
    return (
      `this row has ${values} values but the header has ${width} columns, so its values cannot be matched to their columns. ` +
      `Most likely ${cause}. Put that value in quotes ("…"), or save the file again from the spreadsheet program. Beyond the header: ${beyond}`
    );
  }
}

/**
 * Checks one record on its own (as `paylinks retry` checks a stored row
 * again), with the file's decimal mark from `layout.decimal`.
 */
export function checkRecord(raw: RawRecord, index: number, layout: ColumnLayout): IntakeRecord {
  const checker = new RowChecker(layout, layout.decimal ?? undefined);
  const record = checker.check(raw, index);
  return record.status === 'pending' ? checker.settle(record) : record;
}

/** What a cell holds: as the workbook says, or for a CSV, text unless it is a spreadsheet's error value. */
function kindOf(raw: RawRecord, column: number): CellKind {
  if (raw.sheet !== undefined) return raw.sheet.kinds[column] ?? CellKind.text;
  const text = raw.cells[column]!;
  if (text.length < 4 || text.length > 16) return CellKind.text;
  const first = text.trimStart().charCodeAt(0);
  return (first === 0x23 /* # */ || first === 0x45 /* E */ || first === 0x65) && ERROR_VALUE.test(text.trim()) ? CellKind.error : CellKind.text;
}

/** Whether `text` can start a totals label (s, t, g in any case): most invoice numbers are ruled out without a regular expression. */
function mayBeSummary(text: string): boolean {
  const c = text.charCodeAt(0) | 0x20;
  return c === 0x73 || c === 0x74 || c === 0x67;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** What a cell holding an error value, or a formula without a saved result, is told. */
function cellErrorMessage(raw: RawRecord, column: number, role: string): string {
  const sheet = raw.sheet;
  if (sheet === undefined) {
    return `the ${role} is the spreadsheet error ${raw.cells[column]!.trim()}: a formula failed in the sheet this file was saved from. It is not sent, never read as zero. Fix the formula and save the file again`;
  }
  const cell = `${columnName(column)}${raw.line}`;
  const formula = sheet.formulas?.[column];
  if (sheet.kinds[column] === CellKind.uncalculated) {
    return (
      `the ${role} cell (${cell}) holds a formula (=${formula ?? ''}) with no saved result: the file was saved by a program that does not calculate. ` +
      'Open it in Excel or LibreOffice and save it again'
    );
  }
  const from = formula === undefined ? '' : ` (from =${formula})`;
  return `the ${role} cell (${cell}) holds the error ${raw.cells[column]}${from}: it is not sent, never read as zero. Fix the cell in the sheet`;
}

/** An invalid or duplicate record. (A function, not a closure: that would cost an allocation per row.) */
function problem(index: number, line: number, cells: string[], invoiceNumber: string, code: RowErrorCode, message: string): IntakeRecord {
  return { index, line, cells, status: code === 'DUPLICATE_INVOICE' ? 'duplicate' : 'invalid', invoiceNumber, code, message };
}

/** The length in characters (code points), as Paywint counts it; exact only when above `limit`'s UTF-16 length. */
function characters(text: string, limit: number): number {
  return text.length <= limit ? text.length : [...text].length;
}
