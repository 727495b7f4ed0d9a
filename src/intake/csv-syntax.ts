/**
 * The CSV dialect paylinks reads, and a checker that finds where a syntax
 * error really is.
 *
 * Quotes follow RFC 4180 strictly: a quote inside an unquoted field, or a
 * closing quote followed by anything but a delimiter or line end, stops the
 * file (FILE_MALFORMED) rather than risk reading two rows as one. csv-parse
 * applies these rules but does not say on which line the offending quoted
 * field opens; {@link CsvScanner} applies the same rules byte by byte and does.
 */
import { parse, type Parser } from 'csv-parse';

/**
 * The longest record accepted, in bytes (as UTF-8). Far above any real row;
 * it bounds memory when a stray quote would swallow the rest of the file.
 */
export const MAX_RECORD_BYTES = 1_000_000;

/** LF first: the most common, and checked for every byte. CR LF before CR. */
const RECORD_DELIMITERS = ['\n', '\r\n', '\r'];

/** A csv-parse parser for this dialect: every record as an array of cells, blank lines included. */
export function csvParser(delimiter: string): Parser {
  return parse({
    delimiter,
    record_delimiter: RECORD_DELIMITERS,
    quote: '"',
    escape: '"',
    bom: false,
    relax_column_count: true,
    skip_empty_lines: false,
    max_record_size: MAX_RECORD_BYTES,
  });
}

/** A syntax error, with the line a person should go to. */
export type CsvProblem =
  | { kind: 'unclosed'; line: number }
  | { kind: 'quote-too-long'; line: number }
  | { kind: 'closing-quote'; line: number; closeLine: number; next: string }
  | { kind: 'opening-quote'; line: number }
  | { kind: 'record-too-long'; line: number };

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** A byte-level RFC 4180 syntax checker over UTF-8 (every byte it looks at is ASCII). */
export class CsvScanner {
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
