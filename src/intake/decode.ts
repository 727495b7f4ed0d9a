/**
 * Decoding invoice files as Excel and accounting tools save them.
 *
 * The decoder turns the raw bytes of a file, chunk by chunk, into UTF-8 bytes
 * for the CSV parser, deciding the encoding as it goes:
 *
 * - a byte order mark decides at once: UTF-8, UTF-16 LE or UTF-16 BE (Excel's
 *   "Unicode Text"); UTF-16 without a BOM is recognised by its zero bytes;
 * - otherwise the file is read as UTF-8 while it is plain ASCII (the two
 *   encodings agree there). The first non-ASCII character decides, wherever
 *   it is in the file: a valid UTF-8 sequence makes the file UTF-8; an invalid
 *   one makes it Windows-1252 (Excel's plain "CSV") from there on;
 * - once the file is known to be UTF-8, a later invalid byte is an error with
 *   its line: the file mixes encodings, and guessing could garble a name.
 *
 * Old workbooks (.xls) and other binary files are refused with a message
 * that says what to do (an .xlsx never gets here: invoice-file.ts opens it
 * as a workbook).
 */
import { isAscii, isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { countLineBreaks, firstInvalidUtf8, incompleteTailStart, utf8SequenceAt } from './byte-scan.js';
import { InputFileError } from '../core/errors.js';

export type FileEncoding = 'utf-8' | 'windows-1252' | 'utf-16le' | 'utf-16be';

const EMPTY = Buffer.alloc(0);
const CR = 0x0d;

type State =
  /** Fewer than 4 bytes seen: the BOM and signatures are not known yet. */
  | 'start'
  /** Only ASCII so far: UTF-8 and Windows-1252 are still both possible. */
  | 'ascii'
  | 'utf-8'
  | 'windows-1252'
  | 'utf-16le'
  | 'utf-16be';

interface IconvDecoder {
  write(buf: Buffer): string;
  end(): string | undefined;
}

/**
 * Turns raw file bytes into UTF-8 bytes, detecting the encoding (see the
 * module comment). Feed it with {@link write} and finish with {@link end};
 * both throw {@link InputFileError} (`FILE_UNDECODABLE`) with the line.
 */
export class InvoiceDecoder {
  readonly file: string;
  #state: State = 'start';
  /** Bytes held back: an incomplete UTF-8 sequence, or the start of the file. */
  #pending: Buffer = EMPTY;
  /** Line of the next output byte (1-based). Kept only while an error can still occur (ASCII and UTF-8). */
  #line = 1;
  /** The last byte counted was a CR: an LF right after it ends the same line. */
  #afterCr = false;
  #iconv: IconvDecoder | undefined;
  /** A UTF-16 high surrogate decoded at the end of a chunk, waiting for its pair. */
  #surrogate = '';
  #bom = false;
  #onEncoding: ((encoding: FileEncoding) => void) | undefined;

  /**
   * @param file the file name, for error messages
   * @param onEncoding called when the encoding is decided or changes (from
   *   tentative UTF-8 to Windows-1252)
   */
  constructor(file: string, onEncoding?: (encoding: FileEncoding) => void) {
    this.file = file;
    this.#onEncoding = onEncoding;
  }

  /** The encoding as far as the bytes seen tell; `utf-8` while only ASCII was seen. */
  get encoding(): FileEncoding {
    return this.#state === 'start' || this.#state === 'ascii' ? 'utf-8' : this.#state;
  }

  /** Whether the encoding is settled: a BOM, a non-ASCII character, or UTF-16. */
  get decided(): boolean {
    return this.#state !== 'start' && this.#state !== 'ascii';
  }

  /** Whether the file started with a byte order mark. */
  get bom(): boolean {
    return this.#bom;
  }

  /** Decodes one chunk; returns UTF-8 bytes (possibly empty: some bytes may be held back). */
  write(chunk: Buffer): Buffer {
    const data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = EMPTY;
    return this.#decode(data, false);
  }

  /** Decodes whatever was held back; call once at the end of the file. */
  end(): Buffer {
    const data = this.#pending;
    this.#pending = EMPTY;
    return this.#decode(data, true);
  }

  #decode(data: Buffer, end: boolean): Buffer {
    if (this.#state === 'start') {
      if (data.length < 4 && !end) {
        this.#pending = data;
        return EMPTY;
      }
      data = this.#sniff(data);
    }
    switch (this.#state) {
      case 'ascii':
        return this.#ascii(data, end);
      case 'utf-8':
        return this.#utf8(data, end);
      default:
        return this.#legacy(data, end);
    }
  }

  /** Decides from the first bytes; returns the data without its BOM. */
  #sniff(data: Buffer): Buffer {
    const [b0, b1, b2, b3] = data;
    if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) {
      this.#bom = true;
      this.#settle('utf-8');
      return data.subarray(3);
    }
    if (b0 === 0xff && b1 === 0xfe) {
      this.#bom = true;
      this.#settle('utf-16le');
      return data.subarray(2);
    }
    if (b0 === 0xfe && b1 === 0xff) {
      this.#bom = true;
      this.#settle('utf-16be');
      return data.subarray(2);
    }
    if (b0 === 0x50 && b1 === 0x4b && b2 === 0x03 && b3 === 0x04) {
      throw this.#error('this is an Excel workbook (.xlsx) or another zip file, not a CSV file. In Excel, use File > Save As > "CSV UTF-8 (Comma delimited)"');
    }
    if (b0 === 0xd0 && b1 === 0xcf && b2 === 0x11 && b3 === 0xe0) {
      throw this.#error('this is an old Excel workbook (.xls), which paylinks does not read. In Excel, use File > Save As > "Excel Workbook (.xlsx)" or "CSV UTF-8 (Comma delimited)"');
    }
    // UTF-16 without a BOM: text whose every other byte is zero.
    if (data.length >= 4 && b0 !== 0 && b1 === 0 && b2 !== 0 && b3 === 0) {
      this.#settle('utf-16le');
      return data;
    }
    if (data.length >= 4 && b0 === 0 && b1 !== 0 && b2 === 0 && b3 !== 0) {
      this.#settle('utf-16be');
      return data;
    }
    const nul = data.indexOf(0);
    if (nul !== -1) {
      throw this.#error('the file contains NUL bytes: it is not a text (CSV) file', this.#line + countLineBreaks(data, 0, nul));
    }
    this.#state = 'ascii';
    return data;
  }

  #ascii(data: Buffer, end: boolean): Buffer {
    if (isAscii(data)) {
      this.#countLines(data, 0, data.length);
      return data;
    }
    let first = 0;
    while (data[first]! < 0x80) first++;
    const length = utf8SequenceAt(data, first, end);
    if (length === -1) {
      // The first non-ASCII character is cut by the chunk end: wait for the rest.
      this.#pending = data.subarray(first);
      this.#countLines(data, 0, first);
      return data.subarray(0, first);
    }
    if (length > 0) {
      this.#settle('utf-8');
      return this.#utf8(data, end);
    }
    // Not UTF-8: the bytes so far were ASCII, identical in Windows-1252.
    this.#countLines(data, 0, first);
    this.#settle('windows-1252');
    const head = data.subarray(0, first);
    const rest = this.#legacy(data.subarray(first), end);
    return head.length === 0 ? rest : Buffer.concat([head, rest]);
  }

  #utf8(data: Buffer, end: boolean): Buffer {
    const complete = end ? data.length : incompleteTailStart(data);
    const body = complete === data.length ? data : data.subarray(0, complete);
    if (!isUtf8(body)) {
      const at = firstInvalidUtf8(data, 0, end);
      const line = this.#line + countLineBreaks(data, 0, Math.max(0, at), this.#afterCr);
      throw this.#error(
        'this line has bytes that are not valid UTF-8, although the lines before it are UTF-8: the file mixes two encodings. ' +
          'Open it in Excel and save it again as "CSV UTF-8 (Comma delimited)"',
        line,
      );
    }
    if (complete !== data.length) this.#pending = data.subarray(complete);
    this.#countLines(body, 0, body.length);
    return body;
  }

  #legacy(data: Buffer, end: boolean): Buffer {
    if (this.#iconv === undefined) this.#iconv = iconv.getDecoder(this.#state) as IconvDecoder;
    let text = this.#surrogate + (data.length === 0 ? '' : this.#iconv.write(data));
    this.#surrogate = '';
    if (end) text += this.#iconv.end() ?? '';
    else if (isHighSurrogate(text.charCodeAt(text.length - 1))) {
      // The other half of the pair comes with the next chunk: encoding half a
      // pair to UTF-8 would make it U+FFFD.
      this.#surrogate = text.slice(-1);
      text = text.slice(0, -1);
    }
    return text.length === 0 ? EMPTY : Buffer.from(text, 'utf8');
  }

  #settle(encoding: FileEncoding): void {
    this.#state = encoding;
    this.#onEncoding?.(encoding);
  }

  #countLines(buf: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.#line += countLineBreaks(buf, from, to, this.#afterCr);
    this.#afterCr = buf[to - 1] === CR;
  }

  #error(message: string, line?: number): InputFileError {
    return new InputFileError('FILE_UNDECODABLE', this.file, message, line);
  }
}

/**
 * Decodes a stream of raw chunks into UTF-8 chunks with `decoder`. For
 * `stream.pipeline` (as a transform stage) or `for await`.
 */
export async function* decodeStream(source: AsyncIterable<Buffer>, decoder: InvoiceDecoder): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    const out = decoder.write(chunk);
    if (out.length > 0) yield out;
  }
  const tail = decoder.end();
  if (tail.length > 0) yield tail;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
