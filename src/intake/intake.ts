/**
 * Intake: reading an invoice file as a stream of checked records.
 *
 * `fs` stream → {@link InvoiceDecoder} (encoding) → csv-parse → row checks, as
 * an async iterator: a file of a million rows is never held in memory; only
 * the invoice numbers seen so far are (to find duplicates).
 *
 * Decisions a user can see:
 * - Line numbers are lines of the file as an editor shows them: the header is
 *   line 1 (unless blank lines precede it), blank lines count, and a record
 *   whose quoted field holds line breaks makes the next record start further
 *   down. A record's `line` is the line where it starts.
 * - Blank lines, and lines of only spaces and delimiters, are skipped.
 * - A row has one error code: the first problem in the order invoice number
 *   (missing, too long, duplicate) → amount → description.
 * - Duplicates: a row whose invoice number (trimmed, compared exactly, so
 *   `inv-1` and `INV-1` differ, as they do for Paywint) appeared on an earlier
 *   row, valid or not, is a duplicate and is not sent; the first one is.
 * - Cells: every cell of the record as decoded (not trimmed). A record shorter
 *   than the header is padded with `''`; cells beyond the header's width are
 *   kept (so `cells.length` may exceed `layout.headers.length`).
 * - Quotes follow RFC 4180 strictly: a quote inside an unquoted field, or a
 *   closing quote followed by anything but a delimiter or line end, stops the
 *   file (FILE_MALFORMED) rather than risk reading two rows as one.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { CsvError, parse, type Parser } from 'csv-parse';
import { detectDelimiter, resolveColumns, type ColumnOverrides } from './columns.js';
import { decodeStream, InvoiceDecoder, type FileEncoding } from './decode.js';
import { ConfigError, InputFileError, type RowErrorCode } from '../core/errors.js';
import { parseAmount, plainAmountCents } from './money.js';

export type { ColumnOverrides } from './columns.js';
export type { FileEncoding } from './decode.js';

/** Paywint's limit on `invoice_number`, in characters. */
export const MAX_INVOICE_NUMBER_LENGTH = 20;
/** Paywint's limit on `description`, in characters. */
export const MAX_DESCRIPTION_LENGTH = 255;
/**
 * The longest record accepted, in bytes (as UTF-8). Far above any real row;
 * it bounds memory when a stray quote would swallow the rest of the file.
 */
export const MAX_RECORD_BYTES = 1_000_000;

/** How much of the file is read to detect the encoding and the delimiter, in bytes. */
const HEAD_BYTES = 64 * 1024;
const READ_CHUNK_BYTES = 64 * 1024;
/** LF first: the most common, and checked for every byte. CR LF before CR. */
const RECORD_DELIMITERS = ['\n', '\r\n', '\r'];

export interface ColumnLayout {
  /** The header cells as in the file (trimmed, BOM removed). */
  headers: string[];
  /** Index of the invoice-number column. */
  invoice: number;
  /** Index of the amount column. */
  amount: number;
  /** Index of the description column, if any. */
  description: number | null;
  delimiter: string;
  /**
   * As detected from the start of the file. When the first non-ASCII bytes
   * lie beyond the first 64 KiB and are not UTF-8, this changes from `utf-8`
   * to `windows-1252` while `records` is read (ASCII reads the same in both).
   */
  encoding: FileEncoding;
}

export interface IntakeOptions {
  /** Columns named explicitly, by header name. Default: found by their usual names (`COLUMN_ALIASES` in columns.ts). */
  columns?: ColumnOverrides;
  /** Field delimiter. Default: detected from the header line. */
  delimiter?: string;
}

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

export interface InvoiceFile {
  file: string;
  layout: ColumnLayout;
  /**
   * The data records, in file order. Each iteration reads the file again from
   * the start. Throws {@link InputFileError} for problems found on the way
   * (unterminated quote, undecodable bytes, malformed CSV).
   */
  records: AsyncIterable<IntakeRecord>;
  /** SHA-256 (hex) of the raw file bytes, once `records` has been read to the end. Throws before. */
  sha256(): string;
}

/**
 * Opens an invoice file: detects its encoding and delimiter, reads its header
 * and finds the columns. Throws {@link InputFileError}: FILE_NOT_FOUND,
 * FILE_UNREADABLE, FILE_EMPTY, FILE_UNDECODABLE, FILE_MISSING_COLUMN,
 * FILE_UNTERMINATED_QUOTE or FILE_MALFORMED (the header is unusable); a
 * {@link ConfigError} for a delimiter that is not one character.
 */
export async function openInvoiceFile(file: string, options: IntakeOptions = {}): Promise<InvoiceFile> {
  if (options.delimiter !== undefined && (options.delimiter.length !== 1 || '"\r\n'.includes(options.delimiter))) {
    throw new ConfigError('CONFIG_INVALID', 'delimiter', `delimiter: expected one character other than a quote or a line break, got ${JSON.stringify(options.delimiter)}`);
  }
  const head = await readHead(file);
  if (head.bytes.length === 0) throw new InputFileError('FILE_EMPTY', file, 'the file is empty');

  const sniffer = new InvoiceDecoder(file);
  const decoded = sniffer.write(head.bytes);
  const text = (head.eof ? Buffer.concat([decoded, sniffer.end()]) : decoded).toString('utf8');
  const delimiter = options.delimiter ?? detectDelimiter(firstNonBlankLine(text));

  const header = await readHeader(file, delimiter);
  if (header === undefined) {
    throw new InputFileError('FILE_EMPTY', file, 'the file has no header line: it has only blank lines');
  }
  const headers = header.cells.map(cleanHeader);
  const found = resolveColumns(headers, options.columns);
  if (!found.ok) throw new InputFileError(found.code, file, found.message, header.line);

  const layout: ColumnLayout = {
    headers,
    invoice: found.invoice,
    amount: found.amount,
    description: found.description,
    delimiter,
    encoding: sniffer.encoding,
  };
  let digest: string | undefined;
  return {
    file,
    layout,
    records: {
      [Symbol.asyncIterator]: () =>
        checkedRecords(file, layout, (hex) => {
          digest = hex;
        }),
    },
    sha256() {
      if (digest === undefined) throw new Error('sha256() is known only after the records have been read to the end');
      return digest;
    },
  };
}

/** One record as parsed: where it starts and its cells. */
export interface RawRecord {
  line: number;
  cells: string[];
}

interface ReadHooks {
  onEncoding?: (encoding: FileEncoding) => void;
  onDigest?: (hex: string) => void;
}

async function readHeader(file: string, delimiter: string): Promise<RawRecord | undefined> {
  const reader = new RecordReader(file, delimiter, {});
  try {
    const batch = await reader.next();
    return batch?.[0];
  } finally {
    reader.close();
  }
}

async function* checkedRecords(file: string, layout: ColumnLayout, onDigest: (hex: string) => void): AsyncGenerator<IntakeRecord> {
  const firstLine = new Map<string, number>();
  let index = 0;
  let header = true;
  const reader = new RecordReader(file, layout.delimiter, {
    onEncoding: (encoding) => {
      layout.encoding = encoding;
    },
    onDigest,
  });
  try {
    for (let batch = await reader.next(); batch !== undefined; batch = await reader.next()) {
      for (const raw of batch) {
        if (header) {
          header = false;
          const headers = raw.cells.map(cleanHeader);
          if (headers.length !== layout.headers.length || headers.some((h, i) => h !== layout.headers[i])) {
            throw new InputFileError('FILE_MALFORMED', file, 'the header line changed while the file was being read: was the file saved again? Run the command again', raw.line);
          }
          continue;
        }
        yield checkRecord(raw, index++, layout, firstLine);
      }
    }
  } finally {
    reader.close();
  }
}

/**
 * Checks one data record against the Paywint contract. `firstLine` maps each
 * invoice number seen so far to the line of its first row; it is updated.
 * Pads `raw.cells` with `''` to the header's width.
 */
export function checkRecord(raw: RawRecord, index: number, layout: ColumnLayout, firstLine: Map<string, number>): IntakeRecord {
  const { line, cells } = raw;
  for (let i = cells.length; i < layout.headers.length; i++) cells.push('');

  const invoiceNumber = cells[layout.invoice]!.trim();
  let earlier: number | undefined;
  if (invoiceNumber !== '') {
    earlier = firstLine.get(invoiceNumber);
    if (earlier === undefined) firstLine.set(invoiceNumber, line);
  }
  if (invoiceNumber === '') return problem(index, line, cells, invoiceNumber, 'MISSING_INVOICE_NUMBER', 'the invoice number is empty');
  const invoiceLength = characters(invoiceNumber, MAX_INVOICE_NUMBER_LENGTH);
  if (invoiceLength > MAX_INVOICE_NUMBER_LENGTH) {
    return problem(index, line, cells, invoiceNumber, 'INVOICE_NUMBER_TOO_LONG', `the invoice number is ${invoiceLength} characters long; Paywint accepts at most ${MAX_INVOICE_NUMBER_LENGTH}`);
  }
  if (earlier !== undefined) {
    return problem(index, line, cells, invoiceNumber, 'DUPLICATE_INVOICE', `the same invoice number is already on line ${earlier}; this row will not be sent`);
  }

  const amountText = cells[layout.amount]!;
  let amountCents = plainAmountCents(amountText);
  if (amountCents === -1) {
    const amount = parseAmount(amountText);
    if (!amount.ok) return problem(index, line, cells, invoiceNumber, amount.code, amount.message);
    amountCents = amount.cents;
  }

  let description: string | null = null;
  if (layout.description !== null) {
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

/** An invalid or duplicate record. (A function, not a closure in checkRecord: that would cost an allocation per row.) */
function problem(index: number, line: number, cells: string[], invoiceNumber: string, code: RowErrorCode, message: string): IntakeRecord {
  return { index, line, cells, status: code === 'DUPLICATE_INVOICE' ? 'duplicate' : 'invalid', invoiceNumber, code, message };
}

/**
 * Reads every non-blank record of the file (the header included), with the
 * line it starts on, in batches of whatever the parser has ready: one
 * `await` per batch, not per record. Errors come out as {@link InputFileError}.
 */
class RecordReader {
  readonly #file: string;
  readonly #delimiter: string;
  readonly #hooks: ReadHooks;
  readonly #hash = createHash('sha256');
  readonly #source: ReadStream;
  readonly #parser: Parser;
  #failure: unknown;
  #ended = false;
  #closed = false;
  #wake: (() => void) | undefined;
  /** Line where the next record starts. */
  #line = 1;

  constructor(file: string, delimiter: string, hooks: ReadHooks) {
    this.#file = file;
    this.#delimiter = delimiter;
    this.#hooks = hooks;
    const decoder = new InvoiceDecoder(file, hooks.onEncoding);
    this.#source = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
    this.#parser = parse({
      delimiter,
      record_delimiter: RECORD_DELIMITERS,
      quote: '"',
      escape: '"',
      bom: false,
      relax_column_count: true,
      skip_empty_lines: false,
      max_record_size: MAX_RECORD_BYTES,
    });
    const wake = () => {
      const resolve = this.#wake;
      this.#wake = undefined;
      resolve?.();
    };
    this.#parser.on('readable', wake);
    this.#parser.on('end', () => {
      this.#ended = true;
      wake();
    });
    this.#parser.on('error', (error: unknown) => {
      this.#failure ??= error;
      wake();
    });
    pipeline(this.#source, (chunks: AsyncIterable<Buffer>) => decodeStream(hashed(chunks, this.#hash), decoder), this.#parser, (error) => {
      // The first error also reaches the parser's 'error' listener; premature
      // close after close() is on purpose.
      if (error && !this.#closed) this.#failure ??= error;
      wake();
    });
  }

  /** The next records, or undefined at the end of the file. */
  async next(): Promise<RawRecord[] | undefined> {
    for (;;) {
      const batch: RawRecord[] = [];
      let cells: string[] | null;
      while ((cells = this.#parser.read() as string[] | null) !== null) {
        const line = this.#line;
        this.#line += 1 + lineBreaksIn(cells);
        if (!isBlank(cells)) batch.push({ line, cells });
      }
      if (batch.length > 0) return batch;
      if (this.#failure !== undefined) throw await explain(this.#failure, this.#file, this.#delimiter, this.#line);
      if (this.#ended) {
        if (!this.#closed) {
          this.#closed = true;
          this.#hooks.onDigest?.(this.#hash.digest('hex'));
        }
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Stops reading and releases the file. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#parser.destroy();
    this.#source.destroy();
  }
}

async function* hashed(chunks: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
}

/** Turns what the read pipeline threw into an {@link InputFileError} with a line a person can go to. */
async function explain(error: unknown, file: string, delimiter: string, line: number): Promise<unknown> {
  if (error instanceof InputFileError) return error;
  if (error instanceof CsvError) {
    const problem = await findCsvProblem(file, delimiter).catch(() => undefined);
    if (problem !== undefined) return problemToError(problem, file);
    const at = typeof error.lines === 'number' ? error.lines : line;
    return new InputFileError('FILE_MALFORMED', file, `this line cannot be read as CSV (${error.message})`, at, error);
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ENOENT') return new InputFileError('FILE_NOT_FOUND', file, 'the file was removed while it was being read', undefined, error);
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new InputFileError('FILE_UNREADABLE', file, `the file cannot be read (${code})`, undefined, error);
  }
  return error;
}

type CsvProblem =
  | { kind: 'unclosed'; line: number }
  | { kind: 'quote-too-long'; line: number }
  | { kind: 'closing-quote'; line: number; closeLine: number; next: string }
  | { kind: 'opening-quote'; line: number }
  | { kind: 'record-too-long'; line: number };

function problemToError(problem: CsvProblem, file: string): InputFileError {
  switch (problem.kind) {
    case 'unclosed':
      return new InputFileError(
        'FILE_UNTERMINATED_QUOTE',
        file,
        'a quoted field starts here and is never closed: add the closing quote (") or remove the opening one',
        problem.line,
      );
    case 'quote-too-long':
      return new InputFileError(
        'FILE_UNTERMINATED_QUOTE',
        file,
        `a quoted field starts here and is not closed within ${MAX_RECORD_BYTES.toLocaleString('en-US')} characters: add the closing quote (") or remove the opening one`,
        problem.line,
      );
    case 'closing-quote': {
      const where = problem.closeLine === problem.line ? '' : ` on line ${problem.closeLine}`;
      return new InputFileError(
        'FILE_MALFORMED',
        file,
        `a quoted field starts here, and the quote that ends it${where} is followed by ${JSON.stringify(problem.next)} instead of a delimiter or the end of the line. ` +
          'A quote inside a quoted field must be doubled ("")',
        problem.line,
      );
    }
    case 'opening-quote':
      return new InputFileError(
        'FILE_MALFORMED',
        file,
        'a quote (") appears in the middle of a field. Put the whole field in quotes and double the quote inside it, e.g. "27"" monitor"',
        problem.line,
      );
    case 'record-too-long':
      return new InputFileError('FILE_MALFORMED', file, `a record starts here that is longer than ${MAX_RECORD_BYTES.toLocaleString('en-US')} characters`, problem.line);
  }
}

/**
 * Reads the file again, with the strict RFC 4180 rules csv-parse applies, to
 * find where a CSV syntax error really is: the line where the offending quoted
 * field opens, which csv-parse does not tell. Only runs after an error.
 */
async function findCsvProblem(file: string, delimiter: string): Promise<CsvProblem | undefined> {
  const scanner = new CsvScanner(delimiter.charCodeAt(0));
  const decoder = new InvoiceDecoder(file);
  const source = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  try {
    for await (const chunk of decodeStream(source, decoder)) {
      const problem = scanner.feed(chunk);
      if (problem !== undefined) return problem;
    }
    return scanner.finish();
  } finally {
    source.destroy();
  }
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** A byte-level RFC 4180 syntax checker over UTF-8 (every byte it looks at is ASCII). */
class CsvScanner {
  readonly #delimiter: number;
  #line = 1;
  #afterCr = false;
  #inQuote = false;
  #quotePending = false;
  #afterClose = false;
  #fieldStart = true;
  #quoteLine = 0;
  #closeLine = 0;
  #recordLine = 1;
  #recordBytes = 0;

  constructor(delimiter: number) {
    this.#delimiter = delimiter;
  }

  feed(buf: Buffer): CsvProblem | undefined {
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      if (b === LF && this.#afterCr) {
        this.#afterCr = false;
        continue; // the LF of a CR LF: one line end, already handled
      }
      this.#afterCr = b === CR;
      const newline = b === LF || b === CR;
      const problem = this.#step(b, newline);
      if (problem !== undefined) return problem;
      if (newline) this.#line++;
    }
    return undefined;
  }

  finish(): CsvProblem | undefined {
    if (this.#inQuote && !this.#quotePending) return { kind: 'unclosed', line: this.#quoteLine };
    return undefined;
  }

  #step(b: number, newline: boolean): CsvProblem | undefined {
    if (++this.#recordBytes > MAX_RECORD_BYTES) {
      return this.#inQuote ? { kind: 'quote-too-long', line: this.#quoteLine } : { kind: 'record-too-long', line: this.#recordLine };
    }
    if (this.#quotePending) {
      this.#quotePending = false;
      if (b === QUOTE) return undefined; // "" inside quotes: a literal quote
      this.#inQuote = false;
      this.#afterClose = true;
    }
    if (this.#inQuote) {
      if (b === QUOTE) {
        this.#quotePending = true;
        this.#closeLine = this.#line;
      }
      return undefined;
    }
    if (this.#afterClose) {
      this.#afterClose = false;
      if (b !== this.#delimiter && !newline) {
        return { kind: 'closing-quote', line: this.#quoteLine, closeLine: this.#closeLine, next: String.fromCharCode(b) };
      }
    } else if (b === QUOTE) {
      if (!this.#fieldStart) return { kind: 'opening-quote', line: this.#line };
      this.#inQuote = true;
      this.#fieldStart = false;
      this.#quoteLine = this.#line;
      return undefined;
    }
    if (newline) {
      this.#fieldStart = true;
      this.#recordLine = this.#line + 1;
      this.#recordBytes = 0;
    } else {
      this.#fieldStart = b === this.#delimiter;
    }
    return undefined;
  }
}


/** Line breaks inside a record's cells (only quoted cells can hold them). CR LF counts one. */
function lineBreaksIn(cells: readonly string[]): number {
  let count = 0;
  for (let c = 0; c < cells.length; c++) {
    const cell = cells[c]!;
    let i = cell.indexOf('\n');
    const j = cell.indexOf('\r');
    if (i === -1 && j === -1) continue;
    while (i !== -1) {
      count++;
      i = cell.indexOf('\n', i + 1);
    }
    for (let k = j; k !== -1; k = cell.indexOf('\r', k + 1)) {
      if (cell.charCodeAt(k + 1) !== LF) count++;
    }
  }
  return count;
}

/** A record of only empty or white-space cells: a blank line, or one of only delimiters. */
function isBlank(cells: readonly string[]): boolean {
  for (let c = 0; c < cells.length; c++) {
    const cell = cells[c]!;
    if (cell.length === 0) continue;
    const first = cell.charCodeAt(0);
    if ((first > 0x20 && first < 0x7f) || cell.trim() !== '') return false;
  }
  return true;
}

/** The length in characters (code points), as Paywint counts it; exact only when above `limit`'s UTF-16 length. */
function characters(text: string, limit: number): number {
  return text.length <= limit ? text.length : [...text].length;
}

function cleanHeader(cell: string): string {
  return cell.replace(/^\uFEFF/, '').trim();
}

function firstNonBlankLine(text: string): string {
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (/[^\s,;|]/.test(line)) return line;
  }
  return '';
}

interface Head {
  bytes: Buffer;
  eof: boolean;
}

/** The first {@link HEAD_BYTES} of the file, with the open/read errors a person can act on. */
async function readHead(file: string): Promise<Head> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw openError(error, file);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new InputFileError('FILE_UNREADABLE', file, 'this is a folder, not a file');
    if (!stat.isFile()) throw new InputFileError('FILE_UNREADABLE', file, 'this is not a regular file (paylinks reads the file twice, so pipes cannot be used)');
    const bytes = Buffer.alloc(Math.min(HEAD_BYTES, stat.size));
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { bytes: bytes.subarray(0, filled), eof: stat.size <= HEAD_BYTES };
  } catch (error) {
    throw openError(error, file);
  } finally {
    await handle.close();
  }
}

function openError(error: unknown, file: string): unknown {
  if (error instanceof InputFileError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new InputFileError('FILE_NOT_FOUND', file, 'no such file', undefined, error);
    case 'EACCES':
    case 'EPERM':
      return new InputFileError('FILE_UNREADABLE', file, 'permission denied: paylinks may not read this file', undefined, error);
    case 'EISDIR':
      return new InputFileError('FILE_UNREADABLE', file, 'this is a folder, not a file', undefined, error);
    default:
      return new InputFileError('FILE_UNREADABLE', file, `the file cannot be read (${typeof code === 'string' ? code : String(error)})`, undefined, error);
  }
}
