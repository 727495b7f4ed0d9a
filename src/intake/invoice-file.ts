/**
 * Intake: reading an invoice file as a stream of checked records.
 *
 * `openInvoiceFile` reads the head of the file to detect its encoding and
 * delimiter, reads its header and finds the columns; its `records` then tie
 * the modules of a row's way in together, as an async iterator: a file of a
 * million rows is never held in memory; only the invoice numbers seen so far
 * are (to find duplicates).
 *
 * - file-bytes.ts: the file's head and byte stream, open errors;
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
import { ConfigError, InputFileError } from '../core/errors.js';
import { readHead } from './file-bytes.js';
import { RecordReader, type RawRecord } from './record-reader.js';
import { checkRecord, type IntakeRecord } from './row-checks.js';

export type { ColumnLayout, ColumnOverrides } from './columns.js';
export type { FileEncoding } from './decode.js';
export type { IntakeRecord } from './row-checks.js';

export interface IntakeOptions {
  /** Columns named explicitly, by header name. Default: found by their usual names (`COLUMN_ALIASES` in columns.ts). */
  columns?: ColumnOverrides;
  /** Field delimiter. Default: detected from the header line. */
  delimiter?: string;
}

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

function cleanHeader(cell: string): string {
  return cell.replace(/^\uFEFF/, '').trim();
}

function firstNonBlankLine(text: string): string {
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (/[^\s,;|]/.test(line)) return line;
  }
  return '';
}
