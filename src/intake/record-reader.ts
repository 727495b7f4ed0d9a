/**
 * Reading the records of an invoice file, each with the line it starts on:
 * raw bytes → SHA-256 → {@link InvoiceDecoder} (encoding) → csv-parse.
 *
 * Line numbers are lines of the file as an editor shows them: blank lines
 * count, and a record whose quoted field holds line breaks makes the next
 * record start further down. Blank lines, and lines of only spaces and
 * delimiters, are skipped.
 */
import { createHash, type Hash } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import type { Parser } from 'csv-parse';
import { csvParser } from './csv-syntax.js';
import { decodeStream, InvoiceDecoder, type FileEncoding } from './decode.js';
import { readBytes } from './file-bytes.js';
import { explainReadError } from './read-errors.js';
import type { SheetRow } from './workbook.js';

/** One record as parsed: where it starts and its cells. */
export interface RawRecord {
  line: number;
  cells: string[];
  /** For a workbook row: what each cell holds, its format, whether the row is hidden. */
  sheet?: SheetRow;
}

export interface ReadHooks {
  /** The decoder decided the encoding, or changed it (see {@link InvoiceDecoder}). */
  onEncoding?: (encoding: FileEncoding) => void;
  /** SHA-256 (hex) of the raw bytes, once the whole file was read. */
  onDigest?: (hex: string) => void;
}

const LF = 0x0a;

/**
 * Reads every non-blank record of the file (the header included), with the
 * line it starts on, in batches of whatever the parser has ready: one
 * `await` per batch, not per record. Errors come out as {@link InputFileError}.
 */
export class RecordReader {
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
    this.#source = readBytes(file);
    this.#parser = csvParser(delimiter);
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
      if (this.#failure !== undefined) throw await explainReadError(this.#failure, this.#file, this.#delimiter, this.#line);
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
