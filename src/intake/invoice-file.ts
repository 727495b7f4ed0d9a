/**
 * Intake: reading an invoice file, CSV or Excel workbook, as a stream of
 * checked records.
 *
 * `openInvoiceFile` reads the head of the file to detect its encoding and
 * delimiter, reads its header and finds the columns; its `records` then tie
 * the modules of a row's way in together, as an async iterator: a file of a
 * million rows is never held in memory; only the invoice numbers seen so far
 * are (to find duplicates).
 *
 * - file-bytes.ts: the file's head and byte stream, open errors;
 * - workbook.ts: an Excel workbook's worksheet, streamed row by row;
 * - decode.ts: the encoding (Excel's UTF-8, Windows-1252, UTF-16);
 * - record-reader.ts: records with the line each starts on (the header is
 *   line 1 unless blank lines precede it);
 * - csv-syntax.ts, read-errors.ts: the strict CSV dialect, and errors with
 *   the line to go to;
 * - row-checks.ts, duplicate-invoices.ts, money.ts: each row against the
 *   Paywint contract.
 */
import { detectDelimiter, resolveColumns, type ColumnLayout, type ColumnOverrides } from './columns.js';
import { InvoiceDecoder } from './decode.js';
import { ConfigError, InputFileError, type FileFound } from '../core/errors.js';
import { hashFile, readHead } from './file-bytes.js';
import type { DecimalMark } from '../core/money.js';
import { RecordReader, type RawRecord } from './record-reader.js';
import { RowChecker, type IntakeRecord, type PendingRecord } from './row-checks.js';
import type { FirstLines } from './duplicate-invoices.js';
import { looksLikeZip, Workbook, type SheetInfo } from './workbook.js';

export type { ColumnLayout, ColumnOverrides } from './columns.js';
export type { FileEncoding } from './decode.js';
export type { DecimalMark } from '../core/money.js';
export type { IntakeRecord } from './row-checks.js';

/** How many non-blank lines from the top may come before the header (a title, an export date). */
export const MAX_LINES_BEFORE_HEADER = 10;
/**
 * How many records may wait for the file's decimal mark (see row-checks.ts).
 * Past that, the ambiguous ones among them are reported as such.
 */
export const MAX_PENDING_RECORDS = 100_000;

/** How to read an invoice file. Shared by the CLI, the library and the HTTP upload. */
export interface IntakeOptions {
  /** Columns named explicitly, by header name. Default: found by their usual names (`COLUMN_ALIASES` in columns.ts). */
  columns?: ColumnOverrides;
  /** Field delimiter (CSV). Default: detected from the header line. */
  delimiter?: string;
  /** The worksheet of a workbook to read: its name (any case) or its 1-based number. Default: the first. Ignored for CSV. */
  sheet?: string | number;
  /**
   * The file's decimal mark: `point` (`1,234.56`) or `comma` (`1.234,56`).
   * Default: decided by the file's own amounts (the first that reads only
   * one way); amounts like `1,234` in a file that never tells are row errors
   * (`AMBIGUOUS_AMOUNT`) asking for this option.
   */
  decimal?: DecimalMark;
  /**
   * Stops the read (a shutdown): the next chunk read throws the signal's
   * reason, an `AbortError`, whatever is being parsed. Default: none.
   */
  signal?: AbortSignal;
}

/** How a file is read: as the user asked, and what another read of it found (see FirstLines). */
export interface ReadOptions extends IntakeOptions {
  /** The invoice numbers' first lines, to fill or, filled by an earlier read of the same file, to use. Default: a map of its own. */
  firstLines?: FirstLines;
}

export interface InvoiceFile {
  file: string;
  layout: ColumnLayout;
  /**
   * The data records, in file order. Each iteration reads the file again from
   * the start. Throws {@link InputFileError} for problems found on the way
   * (unterminated quote, undecodable bytes, malformed CSV, a damaged workbook).
   */
  records: AsyncIterable<IntakeRecord>;
  /** SHA-256 (hex) of the raw file bytes, once `records` has been read to the end. Throws before. */
  sha256(): string;
}

/** Where the records of a file come from: CSV lines or a worksheet's rows, in batches. */
interface RecordSource {
  next(): Promise<RawRecord[] | undefined>;
  close(): void;
}

/**
 * Opens an invoice file, a CSV (any of the encodings in decode.ts) or an Excel
 * workbook (recognised by its content: a zip holding `xl/workbook.xml`):
 * finds its header (the first line, or a later one below title lines) and
 * its columns. Throws {@link InputFileError}: FILE_NOT_FOUND,
 * FILE_UNREADABLE, FILE_EMPTY, FILE_UNDECODABLE, FILE_MISSING_COLUMN,
 * FILE_MISSING_SHEET, FILE_UNTERMINATED_QUOTE or FILE_MALFORMED (the header
 * is unusable); a {@link ConfigError} for a bad option.
 */
export async function openInvoiceFile(file: string, options: ReadOptions = {}): Promise<InvoiceFile> {
  if (options.delimiter !== undefined && (options.delimiter.length !== 1 || '"\r\n'.includes(options.delimiter))) {
    throw new ConfigError('CONFIG_INVALID', 'delimiter', `delimiter: expected one character other than a quote or a line break, got ${JSON.stringify(options.delimiter)}`);
  }
  if (options.decimal !== undefined && options.decimal !== 'point' && options.decimal !== 'comma') {
    throw new ConfigError('CONFIG_INVALID', 'decimal', `decimal: expected point or comma, got ${JSON.stringify(options.decimal)}`);
  }
  if (typeof options.sheet === 'number' && (!Number.isSafeInteger(options.sheet) || options.sheet < 1)) {
    throw new ConfigError('CONFIG_INVALID', 'sheet', `sheet: expected a sheet name or a number from 1, got ${options.sheet}`);
  }
  options.signal?.throwIfAborted();
  const head = await readHead(file);
  if (head.bytes.length === 0) throw new InputFileError('FILE_EMPTY', file, 'the file is empty');
  if (looksLikeZip(head.bytes)) return openWorkbookFile(file, options);

  const sniffer = new InvoiceDecoder(file);
  const decoded = sniffer.write(head.bytes);
  const text = (head.eof ? Buffer.concat([decoded, sniffer.end()]) : decoded).toString('utf8');
  const delimiter = options.delimiter ?? detectDelimiter(firstLineWithFields(text));

  const top = await readTop(abortable(new RecordReader(file, delimiter, {}), options.signal));
  const layout: ColumnLayout = { ...withFound({ delimiter }, () => findHeader(file, top, options.columns)), delimiter, encoding: sniffer.encoding, format: 'csv', sheet: null, decimal: options.decimal ?? null };
  let digest: string | undefined;
  const source = () =>
    new RecordReader(file, layout.delimiter, {
      onEncoding: (encoding) => {
        layout.encoding = encoding;
      },
      onDigest: (hex) => {
        digest = hex;
      },
    });
  return {
    file,
    layout,
    records: { [Symbol.asyncIterator]: () => checkedRecords(file, abortable(source(), options.signal), layout, options.decimal, options.firstLines) },
    sha256() {
      if (digest === undefined) throw new Error('sha256() is known only after the records have been read to the end');
      return digest;
    },
  };
}

async function openWorkbookFile(file: string, options: ReadOptions): Promise<InvoiceFile> {
  const workbook = await Workbook.open(file, undefined, options.signal);
  let sheet: SheetInfo;
  let top: RawRecord[];
  const parts = workbook.parts;
  let header: ReturnType<typeof findHeader>;
  let picked: SheetInfo | undefined;
  try {
    sheet = workbook.pickSheet(options.sheet);
    picked = sheet;
    top = await readTop(sheetSource(workbook, sheet, () => undefined, options.signal));
    header = findHeader(file, top, options.columns, sheet.name);
  } catch (error) {
    if (error instanceof InputFileError) error.found = { ...error.found, sheets: workbook.sheets.slice(0, MAX_FOUND_HEADERS).map((s) => s.name.slice(0, MAX_FOUND_HEADER_CHARS)), sheet: picked?.name };
    if (!(error instanceof InputFileError) || workbook.sheets.length < 2 || (error.code !== 'FILE_MISSING_COLUMN' && error.code !== 'FILE_EMPTY')) throw error;
    const sheets = workbook.sheets.map((s) => `${s.number} ${JSON.stringify(s.name)}${s.state === 'visible' ? '' : ' (hidden)'}`).join(', ');
    const prefix = error.line === undefined ? `${file}: ` : `${file}:${error.line}: `;
    const message = `${error.message.slice(prefix.length)} This is sheet ${JSON.stringify(sheet!.name)}; the workbook has ${workbook.sheets.length} sheets: ${sheets}. Pick one with --sheet NAME or --sheet NUMBER`;
    const more = new InputFileError(error.code, file, message, error.line);
    more.found = error.found;
    throw more;
  } finally {
    workbook.close();
  }
  const layout: ColumnLayout = { ...header, delimiter: ',', encoding: 'utf-8', format: 'workbook', sheet: sheet.name, decimal: options.decimal ?? null };
  let digest: string | undefined;
  async function* records(): AsyncGenerator<IntakeRecord> {
    const reading = await Workbook.open(file, parts, options.signal);
    const picked = reading.pickSheet(sheet.name);
    yield* checkedRecords(file, sheetSource(reading, picked, () => reading.close(), options.signal), layout, options.decimal, options.firstLines);
    digest = await hashFile(file);
  }
  return {
    file,
    layout,
    records: { [Symbol.asyncIterator]: records },
    sha256() {
      if (digest === undefined) throw new Error('sha256() is known only after the records have been read to the end');
      return digest;
    },
  };
}

/** A worksheet's non-empty rows as records, the row number as the line. */
function sheetSource(workbook: Workbook, sheet: SheetInfo, onClose: () => void, signal?: AbortSignal): RecordSource {
  const rows = workbook.rows(sheet, signal);
  let closed = false;
  return {
    async next() {
      const batch = await rows.next();
      if (batch.done === true) return undefined;
      return batch.value.map((row) => ({ line: row.row, cells: row.cells, sheet: row }));
    },
    close() {
      if (closed) return;
      closed = true;
      void rows.return(undefined);
      onClose();
    },
  };
}

/** `source`, stopped by `signal` before each batch (a CSV's lines; a worksheet checks each chunk itself). */
function abortable(source: RecordSource, signal: AbortSignal | undefined): RecordSource {
  if (signal === undefined) return source;
  return {
    next: () => {
      signal.throwIfAborted();
      return source.next();
    },
    close: () => source.close(),
  };
}

/** The first {@link MAX_LINES_BEFORE_HEADER} non-blank records, where the header must be. */
async function readTop(source: RecordSource): Promise<RawRecord[]> {
  const top: RawRecord[] = [];
  try {
    for (let batch = await source.next(); batch !== undefined && top.length < MAX_LINES_BEFORE_HEADER; batch = await source.next()) {
      top.push(...batch.slice(0, MAX_LINES_BEFORE_HEADER - top.length));
    }
  } catch (error) {
    // A problem further down is reported where it is, when the records are read.
    if (top.length === 0) throw error;
  } finally {
    source.close();
  }
  return top;
}

/**
 * The header: the first of the top records whose cells name the invoice
 * number and amount columns (title lines above it are not rows of the table).
 * When none does, the first record's problem is the file's.
 */
function findHeader(file: string, top: RawRecord[], overrides: ColumnOverrides | undefined, sheet?: string): Pick<ColumnLayout, 'headers' | 'invoice' | 'amount' | 'description' | 'currency' | 'email' | 'name' | 'due' | 'headerLine'> {
  const first = top[0];
  if (first === undefined) {
    const what = sheet === undefined ? 'the file has no header line: it has only blank lines' : `sheet ${JSON.stringify(sheet)} is empty`;
    throw new InputFileError('FILE_EMPTY', file, what);
  }
  let firstProblem: InputFileError | undefined;
  for (const record of top) {
    const headers = headerCells(record.cells);
    const found = resolveColumns(headers, overrides, sheet !== undefined);
    if (found.ok) return { headers, invoice: found.invoice, amount: found.amount, description: found.description, ...(found.currency === undefined ? {} : { currency: found.currency }), ...contactColumns(found), headerLine: record.line };
    firstProblem ??= new InputFileError(found.code, file, found.message, record.line);
  }
  // The widest line is the likeliest header (title lines above it have one or two cells).
  const widest = top.reduce((best, r) => (headerCells(r.cells).filter((c) => c !== '').length > headerCells(best.cells).filter((c) => c !== '').length ? r : best), first);
  firstProblem!.found = { ...firstProblem!.found, headers: headerCells(widest.cells).slice(0, MAX_FOUND_HEADERS).map((h) => h.slice(0, MAX_FOUND_HEADER_CHARS)), headerLine: widest.line };
  throw firstProblem!;
}

/** Header cells a file error carries (see `FileFound`), and the characters kept of each. */
const MAX_FOUND_HEADERS = 100;
const MAX_FOUND_HEADER_CHARS = 100;

/** Adds what was found to a file error on its way out. */
function withFound<T>(found: FileFound, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof InputFileError) error.found = { ...error.found, ...found };
    throw error;
  }
}

/** The header cells, trimmed, without a BOM, without the empty cells that end it (formatted but empty columns). */
function headerCells(cells: readonly string[]): string[] {
  const headers = cells.map(cleanHeader);
  while (headers.length > 0 && headers[headers.length - 1] === '') headers.pop();
  return headers;
}

async function* checkedRecords(file: string, source: RecordSource, layout: ColumnLayout, decimal: DecimalMark | undefined, firstLines?: FirstLines): AsyncGenerator<IntakeRecord> {
  const checker = new RowChecker(layout, decimal, firstLines);
  const headerLine = layout.headerLine ?? 1;
  let index = 0;
  let pending: (IntakeRecord | PendingRecord)[] = [];
  const release = function* (): Generator<IntakeRecord> {
    for (const record of pending) yield record.status === 'pending' ? checker.settle(record) : record;
    pending = [];
    layout.decimal = checker.decimal ?? null;
  };
  try {
    for (let batch = await source.next(); batch !== undefined; batch = await source.next()) {
      for (const raw of batch) {
        if (raw.line < headerLine) continue;
        if (raw.line === headerLine) {
          const headers = headerCells(raw.cells);
          if (headers.length !== layout.headers.length || headers.some((h, i) => h !== layout.headers[i])) {
            throw new InputFileError('FILE_MALFORMED', file, 'the header line changed while the file was being read: was the file saved again? Run the command again', raw.line);
          }
          continue;
        }
        const record = checker.check(raw, index++);
        if (pending.length === 0 && record.status !== 'pending') {
          yield record;
          continue;
        }
        // Records wait, in order, behind the first whose amount reads two ways, until the file tells its decimal mark.
        pending.push(record);
        if (checker.decimal !== undefined || pending.length >= MAX_PENDING_RECORDS) yield* release();
      }
    }
    yield* release();
    layout.decimal = checker.decimal ?? null;
  } finally {
    source.close();
  }
}

function cleanHeader(cell: string): string {
  return cell.replace(/^\uFEFF/, '').trim();
}

/**
 * The line to detect the delimiter from: the first non-blank line that has a
 * delimiter in it (a title line above the header may have none), else the
 * first non-blank line.
 */
function firstLineWithFields(text: string): string {
  let first: string | undefined;
  let seen = 0;
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (!/[^\s,;|]/.test(line)) continue;
    first ??= line;
    if (/[,;\t|]/.test(line)) return line;
    if (++seen >= MAX_LINES_BEFORE_HEADER) break;
  }
  return first ?? '';
}

/** The contact columns found (issue 19), only those present: a layout without them reads as before. */
function contactColumns(found: Pick<ColumnLayout, 'email' | 'name' | 'due'>): Pick<ColumnLayout, 'email' | 'name' | 'due'> {
  const out: Pick<ColumnLayout, 'email' | 'name' | 'due'> = {};
  if (found.email !== undefined) out.email = found.email;
  if (found.name !== undefined) out.name = found.name;
  if (found.due !== undefined) out.due = found.due;
  return out;
}
