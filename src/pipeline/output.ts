/**
 * The output CSV: the input columns in their order, then the result columns.
 *
 * UTF-8 with a BOM (so Excel reads it right), CRLF line ends, RFC 4180
 * quoting, streamed to disk. Text cells that a spreadsheet would run as a
 * formula are neutralised (OWASP "CSV injection"), numbers are left alone.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';

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
  /**
   * A `failed` row whose invoice had a request whose outcome is unknown (no answer, a cut connection, an
   * unreadable answer): Paywint may hold a link for it. Set only when true.
   */
  maybeLinked?: boolean;
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

/**
 * Undoes {@link neutraliseCell}: a cell that is an apostrophe followed by
 * what neutraliseCell would have neutralised loses the apostrophe, so a file
 * paylinks wrote reads back as the values it was written from.
 */
export function restoreNeutralisedCell(value: string): string {
  if (!value.startsWith("'")) return value;
  const original = value.slice(1);
  return neutraliseCell(original) === value ? original : value;
}

/** Where the output rows go: the CSV ({@link OutputWriter}) or a workbook (workbook-output.ts). */
export interface RowWriter {
  readonly file: string;
  readonly rowCount: number;
  /** Writes one row: the input cells, then the result, then the `extra` columns' cells (see `extraHeaders`). */
  write(cells: readonly string[], result: RowResult, extra?: readonly string[]): Promise<void>;
  /** Finishes the file and moves it into place. */
  close(): Promise<void>;
  /** Abandons the output: nothing is left at `file` or beside it. */
  abort(): Promise<void>;
}

/** How paylinks quotes: RFC 4180, plus cells with leading or trailing spaces (so a spreadsheet keeps them). */
const CSV_OPTIONS = { record_delimiter: '\r\n', quoted_match: /^\s|\s$/ } as const;

/** Rows turned into text at once: csv-stringify's synchronous call on a block costs a fraction of a stream write per row. */
const BLOCK_ROWS = 256;

/**
 * A CSV file as paylinks writes every one: UTF-8 with a BOM, CRLF, RFC 4180
 * quoting, every cell neutralised ({@link neutraliseCell}), written through a
 * temporary `*.partial` file renamed into place on {@link CsvFileWriter.close},
 * so a crash never leaves a half-written file that looks complete. Given a
 * stream instead of a path (stdout), it writes there and leaves it open.
 * Rows go out in blocks of {@link BLOCK_ROWS}, so memory stays bounded.
 */
export class CsvFileWriter {
  private readonly stream: Writable;
  private readonly tmpFile: string | undefined;
  private rows = 0;
  private block: string[][] = [];
  private failure: Error | undefined;

  constructor(
    readonly target: string | Writable,
    headers: readonly string[],
  ) {
    this.tmpFile = typeof target === 'string' ? `${target}.partial` : undefined;
    this.stream = this.tmpFile === undefined ? (target as Writable) : createWriteStream(this.tmpFile);
    // A stream that fails (a full disk, a closed pipe: `| head`) fails the next write, not the process.
    this.stream.on('error', (error) => (this.failure ??= error));
    this.stream.write(`\uFEFF${stringify([headers.map(neutraliseCell)], CSV_OPTIONS)}`);
  }

  /** Number of data rows written so far. */
  get rowCount(): number {
    return this.rows;
  }

  /** Writes one record, each cell neutralised. Waits when the disk is slower than the caller, so memory stays bounded. */
  async write(cells: readonly string[]): Promise<void> {
    if (this.failure) throw this.failure;
    this.rows += 1;
    this.block.push(cells.map(neutraliseCell));
    if (this.block.length >= BLOCK_ROWS) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.block.length === 0) return;
    const text = stringify(this.block, CSV_OPTIONS);
    this.block = [];
    // once() rejects if the stream fails while we wait.
    if (!this.stream.write(text)) await once(this.stream, 'drain');
    if (this.failure) throw this.failure;
  }

  /** Flushes and closes; a file is moved into place. */
  async close(): Promise<void> {
    await this.flush();
    if (this.tmpFile === undefined) {
      await new Promise<void>((resolve, reject) => this.stream.write('', (error) => (error ? reject(error) : resolve())));
      return;
    }
    const finished = once(this.stream, 'finish');
    this.stream.end();
    await finished;
    if (this.failure) throw this.failure;
    await rename(this.tmpFile, this.target as string);
  }

  /** Abandons the file: nothing is left at its path or beside it. */
  async abort(): Promise<void> {
    this.block = [];
    if (this.tmpFile === undefined) return;
    this.stream.destroy();
    await rm(this.tmpFile, { force: true });
  }
}

export interface OutputWriterOptions {
  /** The input file's header cells, in order. */
  headers: string[];
  /** Columns after the result columns (the e-mail columns of a file with addresses). Default none. */
  extraHeaders?: readonly string[];
}

/** Writes the output CSV to `file` (see {@link CsvFileWriter}). */
export class OutputWriter implements RowWriter {
  private readonly csv: CsvFileWriter;
  private readonly width: number;

  constructor(
    readonly file: string,
    options: OutputWriterOptions,
  ) {
    this.width = options.headers.length;
    this.csv = new CsvFileWriter(file, [...options.headers, ...RESULT_COLUMNS, ...(options.extraHeaders ?? [])]);
  }

  /** Number of data rows written so far. */
  get rowCount(): number {
    return this.csv.rowCount;
  }

  /**
   * Writes one row: the input cells (padded or kept to the header's width, any
   * extra cells kept) followed by the result. Waits when the disk is slower
   * than the caller, so memory stays bounded.
   */
  async write(cells: readonly string[], result: RowResult, extra: readonly string[] = []): Promise<void> {
    const input = cells.length >= this.width ? cells : [...cells, ...new Array<string>(this.width - cells.length).fill('')];
    await this.csv.write([
      ...input,
      result.status,
      result.paymentId ?? '',
      result.paymentLink ?? '',
      result.errorCode ?? '',
      result.errorMessage ?? '',
      String(result.attempts),
      ...extra,
    ]);
  }

  /** Flushes, closes and moves the file into place. */
  close(): Promise<void> {
    return this.csv.close();
  }

  /** Abandons the output: nothing is left at `file` or beside it. */
  abort(): Promise<void> {
    return this.csv.abort();
  }
}
