/**
 * The output CSV: the input columns in their order, then the result columns.
 *
 * UTF-8 with a BOM (so Excel reads it right), CRLF line ends, RFC 4180
 * quoting, streamed to disk. Text cells that a spreadsheet would run as a
 * formula are neutralised (OWASP "CSV injection"), numbers are left alone.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { stringify, type Stringifier } from 'csv-stringify';

export const ROW_STATUSES = ['created', 'exists', 'invalid', 'duplicate', 'conflict', 'failed'] as const;
export type RowStatus = (typeof ROW_STATUSES)[number];

/** The columns paylinks appends after the input's own. */
export const RESULT_COLUMNS = ['status', 'payment_id', 'payment_link', 'error_code', 'error_message', 'attempts'] as const;

export interface RowResult {
  status: RowStatus;
  paymentId?: string | null;
  paymentLink?: string | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  /** HTTP requests sent to Paywint for this row. */
  attempts: number;
}

const FORMULA_START = /^[=+\-@\t\r]/;
/** A plain number, possibly signed, with a currency sign or thousands separators: left as is. */
const NUMERIC = /^[+-]?[$€£]?\s?\d[\d,. ]*$/;

/**
 * Neutralises a cell against formula injection: a text cell that begins with
 * `=`, `+`, `-`, `@`, tab or carriage return gets a leading apostrophe, which
 * spreadsheets show as text. Numeric cells such as `-12.50` are not touched.
 */
export function neutraliseCell(value: string): string {
  if (!FORMULA_START.test(value)) return value;
  if (NUMERIC.test(value)) return value;
  return `'${value}`;
}

export interface OutputWriterOptions {
  /** The input file's header cells, in order. */
  headers: string[];
}

/** Where the output rows go: the CSV ({@link OutputWriter}) or a workbook (workbook-output.ts). */
export interface RowWriter {
  readonly file: string;
  readonly rowCount: number;
  /** Writes one row: the input cells, then the result. */
  write(cells: readonly string[], result: RowResult): Promise<void>;
  /** Finishes the file and moves it into place. */
  close(): Promise<void>;
  /** Abandons the output: nothing is left at `file` or beside it. */
  abort(): Promise<void>;
}

/**
 * Writes the output CSV to `file` through a temporary file renamed into place
 * on {@link OutputWriter.close}, so a crash never leaves a half-written output
 * that looks complete.
 */
export class OutputWriter implements RowWriter {
  private readonly stringifier: Stringifier;
  private readonly stream: WriteStream;
  private readonly tmpFile: string;
  private readonly width: number;
  private rows = 0;

  constructor(
    readonly file: string,
    options: OutputWriterOptions,
  ) {
    this.tmpFile = `${file}.partial`;
    this.stream = createWriteStream(this.tmpFile);
    this.stream.write('\uFEFF');
    this.stringifier = stringify({ record_delimiter: '\r\n', quoted_match: /^\s|\s$/ });
    this.stringifier.pipe(this.stream);
    this.width = options.headers.length;
    this.stringifier.write([...options.headers.map(neutraliseCell), ...RESULT_COLUMNS]);
  }

  /** Number of data rows written so far. */
  get rowCount(): number {
    return this.rows;
  }

  /**
   * Writes one row: the input cells (padded or kept to the header's width, any
   * extra cells kept) followed by the result. Waits when the disk is slower
   * than the caller, so memory stays bounded.
   */
  async write(cells: readonly string[], result: RowResult): Promise<void> {
    const input = cells.length >= this.width ? cells : [...cells, ...new Array<string>(this.width - cells.length).fill('')];
    const record = [
      ...input.map(neutraliseCell),
      result.status,
      result.paymentId ?? '',
      result.paymentLink ?? '',
      result.errorCode ?? '',
      neutraliseCell(result.errorMessage ?? ''),
      String(result.attempts),
    ];
    this.rows += 1;
    if (!this.stringifier.write(record)) await once(this.stringifier, 'drain');
  }

  /** Flushes, closes and moves the file into place. */
  async close(): Promise<void> {
    const finished = once(this.stream, 'finish');
    this.stringifier.end();
    await finished;
    await rename(this.tmpFile, this.file);
  }

  /** Abandons the output: nothing is left at `file` or beside it. */
  async abort(): Promise<void> {
    this.stringifier.destroy();
    this.stream.destroy();
    await rm(this.tmpFile, { force: true });
  }
}
