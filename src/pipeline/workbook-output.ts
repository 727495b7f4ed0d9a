/**
 * The output as an Excel workbook (`-o out.xlsx`): the same columns and rows
 * as the output CSV, for people who open it in a spreadsheet.
 *
 * - The header row is frozen and bold; payment links are clickable hyperlinks.
 * - The amount column holds numbers shown with two decimals, where the input
 *   amount is valid (read with the file's decimal mark, so exactly the amount
 *   sent); anything else stays the text it was.
 * - Every other input cell is text, as read: a cell that looks like a formula
 *   (`=1+1`) is a text cell, never a formula, so it needs no apostrophe.
 *
 * Streamed (exceljs's WorkbookWriter): rows are written to the zip as they
 * come, to a temporary file renamed into place on {@link close}.
 */
import { rename, rm } from 'node:fs/promises';
import ExcelJS from 'exceljs';
import { PaylinksError } from '../core/errors.js';
import { readAmount, type DecimalMark } from '../core/money.js';
import { RESULT_COLUMNS, type RowResult, type RowWriter } from './output.js';

/** Rows a worksheet holds, the header included (Excel's limit). */
export const MAX_WORKBOOK_ROWS = 1_048_576;
/** Characters a cell holds (Excel's limit). */
const MAX_CELL_CHARACTERS = 32_767;

export interface WorkbookOutputOptions {
  /** The input file's header cells, in order. */
  headers: string[];
  /** Index of the amount column among `headers`. */
  amountColumn: number;
  /** The input file's decimal mark, to read its amounts as intake did. Default: point. */
  decimal?: DecimalMark | null;
  /** Columns after the result columns (the e-mail columns of a file with addresses). Default none. */
  extraHeaders?: readonly string[];
}

export class WorkbookOutputWriter implements RowWriter {
  readonly file: string;
  readonly #tmpFile: string;
  readonly #workbook: ExcelJS.stream.xlsx.WorkbookWriter;
  readonly #sheet: ExcelJS.Worksheet;
  readonly #width: number;
  readonly #amountColumn: number;
  readonly #decimal: DecimalMark;
  readonly #linkColumn: number;
  #rows = 0;

  constructor(file: string, options: WorkbookOutputOptions) {
    this.file = file;
    this.#tmpFile = `${file}.partial`;
    this.#width = options.headers.length;
    this.#amountColumn = options.amountColumn;
    this.#decimal = options.decimal ?? 'point';
    this.#linkColumn = this.#width + RESULT_COLUMNS.indexOf('payment_link') + 1;
    this.#workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: this.#tmpFile, useStyles: true, useSharedStrings: false });
    this.#sheet = this.#workbook.addWorksheet('Payment links', { views: [{ state: 'frozen', ySplit: 1 }] });
    const header = this.#sheet.addRow([...options.headers, ...RESULT_COLUMNS, ...(options.extraHeaders ?? [])]);
    header.font = { bold: true };
    header.commit();
  }

  get rowCount(): number {
    return this.#rows;
  }

  async write(cells: readonly string[], result: RowResult, extra: readonly string[] = []): Promise<void> {
    if (this.#rows + 2 > MAX_WORKBOOK_ROWS) {
      throw new PaylinksError('INTERNAL', `a workbook holds at most ${MAX_WORKBOOK_ROWS.toLocaleString('en-US')} rows: write this output as CSV (-o out.csv)`);
    }
    const values: (string | number | null)[] = [];
    const width = Math.max(cells.length, this.#width);
    for (let i = 0; i < width; i++) values.push(text(cells[i] ?? ''));
    values.push(result.status, result.paymentId ?? '', result.paymentLink ?? '', result.errorCode ?? '', text(result.errorMessage ?? ''), result.attempts);
    for (const cell of extra) values.push(text(cell));
    const row = this.#sheet.addRow(values);
    const amount = readAmount(cells[this.#amountColumn] ?? '', this.#decimal);
    if (amount.ok) {
      const cell = row.getCell(this.#amountColumn + 1);
      // A number literal written from the cents, as the JSON sent to Paywint is: 1234.5 is exactly what the sheet shows as 1,234.50.
      cell.value = Number(`${Math.trunc(amount.cents / 100)}.${String(amount.cents % 100).padStart(2, '0')}`);
      cell.numFmt = '#,##0.00';
    }
    if (result.paymentLink) {
      const link = row.getCell(this.#linkColumn);
      link.value = { text: result.paymentLink, hyperlink: result.paymentLink };
      link.font = { color: { argb: 'FF0563C1' }, underline: true };
    }
    row.commit();
    this.#rows += 1;
    // exceljs writes to the zip stream as rows are committed; let it drain now and then.
    if (this.#rows % 1000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  async close(): Promise<void> {
    this.#sheet.commit();
    await this.#workbook.commit();
    await rename(this.#tmpFile, this.file);
  }

  async abort(): Promise<void> {
    await this.#workbook.commit().catch(() => undefined);
    await rm(this.#tmpFile, { force: true });
  }
}

/** A text cell (none for ''); longer than Excel holds, cut, and saying so. */
function text(value: string): string | null {
  if (value === '') return null;
  return value.length <= MAX_CELL_CHARACTERS ? value : `${value.slice(0, MAX_CELL_CHARACTERS - 1)}…`;
}
