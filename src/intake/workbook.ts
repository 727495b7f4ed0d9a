/**
 * Excel workbooks (.xlsx, .xlsm) read as a stream of rows.
 *
 * A workbook is a zip of XML parts. The zip's central directory lets us read
 * the small parts first, whatever their order in the file (the workbook's
 * sheet list, the shared strings, the number formats), then stream the one
 * worksheet asked for, row by row, through a scanner of its tags
 * ({@link TagScanner}): a 1,000,000-row sheet is never held whole. Only the
 * shared-string table is held (a cell refers to it by index), packed into a
 * few large strings ({@link StringTable}).
 *
 * The pieces: workbook-zip.ts (the zip, and the limit on what it inflates
 * to), xml-scan.ts (the tag scanner, one pass per chunk), shared-strings.ts
 * and sheet-reader.ts (the two large parts, each cell capped at Excel's
 * 32,767 characters). A workbook beyond a limit is `FILE_TOO_LARGE`, at once.
 *
 * Built on yauzl (zip), saxes (the small parts) and that scanner rather than
 * exceljs's WorkbookReader. Measured on the same 1,000,000-row workbook
 * before choosing: exceljs's reader 59,000 rows/s within 376 MB, this one
 * with saxes for the sheet too 55,000 rows/s within 163 MB, with the scanner
 * about 116,000 rows/s (bench/validate-bench.ts keeps exceljs beside
 * `validate`). And exceljs drops what paylinks must see: the `hidden` flag
 * of a row, and the error value of a formula (`#N/A` becomes NaN).
 *
 * Cells are read for what they hold, not how they are displayed (see
 * {@link CellKind}): a number is the shortest decimal that round-trips to the
 * stored double (`89.99`, never `89.98999999999999`), a date is an ISO date,
 * a formula is its cached result.
 */
import type { Readable } from 'node:stream';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { InputFileError } from '../core/errors.js';
import { readSharedStrings, StringTable } from './shared-strings.js';
import { SheetReader, type SheetRow } from './sheet-reader.js';
import { checkInflatedSize, listEntries, openText, openZip, type Entry, type ZipFile } from './workbook-zip.js';
import { WorkbookLimitError } from './xml-scan.js';

export { CellKind, serialToIso, type SheetRow } from './sheet-reader.js';
export { MAX_CELL_CHARS, MAX_SHARED_STRINGS, StringTable } from './shared-strings.js';
export { MAX_WORKBOOK_BYTES } from './workbook-zip.js';
export { columnName, unescapeOoxml } from './xml-scan.js';

export interface SheetInfo {
  /** The sheet's name, as on its tab. */
  name: string;
  /** 1-based position among the workbook's sheets (the tab order). */
  number: number;
  /** `visible`, `hidden` or `veryHidden`. */
  state: string;
  /** The zip entry holding the sheet. */
  part: string;
}

/** saxes without namespace processing: tags with plain string attributes. */
interface PlainXml {
  xmlns: false;
  position: false;
}

/**
 * The file error for what reading the workbook threw: `FILE_TOO_LARGE` for a
 * limit ({@link WorkbookLimitError}), else `FILE_UNDECODABLE` after `what`.
 */
function workbookError(file: string, error: unknown, what: string): unknown {
  if (error instanceof InputFileError) return error;
  if (error instanceof WorkbookLimitError) return new InputFileError('FILE_TOO_LARGE', file, `this workbook is beyond what paylinks reads: ${error.message}`, undefined, error);
  if (error instanceof Error && error.name === 'AbortError') return error;
  return new InputFileError('FILE_UNDECODABLE', file, `${what}: ${(error as Error).message}`, undefined, error);
}

/** The bytes a zip file starts with. */
export function looksLikeZip(head: Buffer): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/**
 * An open workbook: its sheets, shared strings and number formats, ready to
 * stream a sheet's rows. {@link close} releases the file.
 */
export class Workbook {
  readonly file: string;
  readonly sheets: SheetInfo[];
  readonly #zip: ZipFile;
  readonly #entries: Map<string, Entry>;
  readonly #strings: StringTable;
  /** Per cell style (`s`): 0 plain, 1 date, 2 date with time; and the decimals shown. */
  readonly #styleDate: Uint8Array;
  readonly #styleDecimals: Int8Array;
  readonly #date1904: boolean;
  /** The shared strings' part name ('' when there is none). */
  readonly #stringsPart: string;

  private constructor(file: string, zip: ZipFile, entries: Map<string, Entry>, parts: WorkbookParts) {
    this.file = file;
    this.#stringsPart = parts.stringsPart;
    this.#zip = zip;
    this.#entries = entries;
    this.sheets = parts.sheets;
    this.#strings = parts.strings;
    this.#styleDate = parts.styleDate;
    this.#styleDecimals = parts.styleDecimals;
    this.#date1904 = parts.date1904;
  }

  /** The parsed sheet list, shared strings and formats: pass them to {@link open} to read the same file again without parsing them again. */
  get parts(): WorkbookParts {
    return { sheets: this.sheets, strings: this.#strings, stringsPart: this.#stringsPart, styleDate: this.#styleDate, styleDecimals: this.#styleDecimals, date1904: this.#date1904 };
  }

  /**
   * Opens `file` as a workbook. Throws {@link InputFileError}
   * (`FILE_UNDECODABLE`) when it is a zip but not an Excel workbook, or a
   * damaged one. `parts`: those of an earlier open of the same file (the
   * shared strings of a large sheet take a second or two to read).
   * `signal` stops the read of the parts (the next chunk throws its reason).
   */
  static async open(file: string, parts?: WorkbookParts, signal?: AbortSignal): Promise<Workbook> {
    let zip: ZipFile;
    try {
      zip = await openZip(file);
    } catch (error) {
      throw new InputFileError('FILE_UNDECODABLE', file, `this looks like a zip file (an Excel workbook?) but it cannot be opened: ${(error as Error).message}`, undefined, error);
    }
    try {
      const entries = await listEntries(zip);
      if (!entries.has('xl/workbook.xml')) {
        const what = entries.has('content.xml')
          ? 'an OpenDocument file (.ods), not an Excel workbook. Save it as an Excel workbook (.xlsx) or as CSV'
          : 'a zip file, but not an Excel workbook (it holds no xl/workbook.xml). Save the sheet as an Excel workbook (.xlsx) or as CSV';
        throw new InputFileError('FILE_UNDECODABLE', file, `this is ${what}`);
      }
      return new Workbook(file, zip, entries, parts ?? (await readParts(file, zip, entries, signal)));
    } catch (error) {
      zip.close();
      throw workbookError(file, error, 'this Excel workbook is damaged and cannot be read');
    }
  }

  /**
   * The sheet named by `sheet`: a name (compared ignoring case) or a 1-based
   * number; the first sheet when undefined. Throws {@link InputFileError}
   * (`FILE_MISSING_SHEET`) naming the sheets there are.
   */
  pickSheet(sheet: string | number | undefined): SheetInfo {
    const first = this.sheets[0];
    if (first === undefined) throw new InputFileError('FILE_NO_ROWS', this.file, 'the workbook has no worksheet');
    if (sheet === undefined) return first;
    const list = this.sheets.map((s) => `${s.number}: ${JSON.stringify(s.name)}`).join(', ');
    const asNumber = typeof sheet === 'number' ? sheet : /^\d+$/.test(sheet.trim()) ? Number(sheet.trim()) : undefined;
    const byName = typeof sheet === 'string' ? this.sheets.find((s) => s.name.toLowerCase() === sheet.trim().toLowerCase()) : undefined;
    const found = byName ?? (asNumber === undefined ? undefined : this.sheets[asNumber - 1]);
    if (found === undefined) {
      throw new InputFileError('FILE_MISSING_SHEET', this.file, `the workbook has no sheet ${JSON.stringify(String(sheet))}; its sheets are ${list}`);
    }
    return found;
  }

  /**
   * Streams the rows of `sheet` that hold at least one value, in batches (one
   * `await` per batch of parsed XML, not per row). Each call reads the sheet
   * again from the start.
   */
  async *rows(sheet: SheetInfo, signal?: AbortSignal): AsyncGenerator<SheetRow[]> {
    const entry = this.#entries.get(sheet.part);
    if (entry === undefined) throw new InputFileError('FILE_UNDECODABLE', this.file, `the workbook is damaged: sheet ${JSON.stringify(sheet.name)} is missing (${sheet.part})`);
    let stream: Readable | undefined;
    try {
      checkInflatedSize([...this.#smallParts, this.#entries.get(this.#stringsPart), entry]);
      stream = await openText(this.#zip, entry);
      const reader = new SheetReader(this.#strings, this.#styleDate, this.#styleDecimals, this.#date1904);
      for await (const chunk of stream as AsyncIterable<string>) {
        signal?.throwIfAborted();
        reader.write(chunk);
        const batch = reader.take();
        if (batch.length > 0) yield batch;
      }
      reader.end();
      const rest = reader.take();
      if (rest.length > 0) yield rest;
    } catch (error) {
      throw workbookError(this.file, error, `sheet ${JSON.stringify(sheet.name)} of this workbook is damaged and cannot be read`);
    } finally {
      stream?.destroy();
    }
  }

  /** The small parts read at open: the sheet list and its relations, the styles. */
  get #smallParts(): (Entry | undefined)[] {
    return ['xl/workbook.xml', 'xl/_rels/workbook.xml.rels', 'xl/styles.xml'].map((name) => this.#entries.get(name));
  }

  close(): void {
    this.#zip.close();
  }
}

export interface WorkbookParts {
  sheets: SheetInfo[];
  strings: StringTable;
  /** Where the shared strings are in the zip ('' when nowhere). */
  stringsPart: string;
  styleDate: Uint8Array;
  styleDecimals: Int8Array;
  date1904: boolean;
}

/** Parses a small part whole, calling `onTag` for every opening tag (local name, no namespace prefix) and `onText` inside. */
async function parsePart(
  zip: ZipFile,
  entry: Entry | undefined,
  handlers: { open: (name: string, attributes: Record<string, string>) => void; close?: (name: string) => void; text?: (text: string) => void },
  signal?: AbortSignal,
): Promise<void> {
  if (entry === undefined) return;
  const parser = new SaxesParser<PlainXml>({ xmlns: false, position: false });
  parser.on('opentag', (tag: SaxesTagPlain) => handlers.open(localName(tag.name), tag.attributes));
  if (handlers.close) {
    const close = handlers.close;
    parser.on('closetag', (tag: SaxesTagPlain) => close(localName(tag.name)));
  }
  if (handlers.text) parser.on('text', handlers.text);
  const stream = await openText(zip, entry);
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      signal?.throwIfAborted();
      parser.write(chunk);
    }
  } finally {
    stream.destroy();
  }
  parser.close();
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

async function readParts(file: string, zip: ZipFile, entries: Map<string, Entry>, signal?: AbortSignal): Promise<WorkbookParts> {
  const relsEntry = entries.get('xl/_rels/workbook.xml.rels');
  const listEntry = entries.get('xl/workbook.xml');
  checkInflatedSize([relsEntry, listEntry]);
  const rels = new Map<string, string>();
  await parsePart(zip, relsEntry, {
    open: (name, a) => {
      if (name === 'Relationship' && a.Id !== undefined && a.Target !== undefined) rels.set(a.Id, a.Target);
    },
  }, signal);

  const sheets: SheetInfo[] = [];
  let date1904 = false;
  await parsePart(zip, listEntry, {
    open: (name, a) => {
      if (name === 'workbookPr') date1904 = a.date1904 === '1' || a.date1904 === 'true';
      if (name !== 'sheet') return;
      const id = a['r:id'] ?? Object.entries(a).find(([k]) => k.endsWith(':id'))?.[1];
      const target = id === undefined ? undefined : rels.get(id);
      if (target === undefined || a.name === undefined) return;
      const part = target.startsWith('/') ? target.slice(1) : `xl/${target}`.replace(/\/\.\//g, '/');
      sheets.push({ name: a.name, number: sheets.length + 1, state: a.state ?? 'visible', part });
    },
  }, signal);
  if (sheets.length === 0) throw new InputFileError('FILE_NO_ROWS', file, 'the workbook has no worksheet');

  const stringsEntry = findPart(entries, rels, 'sharedStrings', 'xl/sharedStrings.xml');
  const stylesEntry = findPart(entries, rels, 'styles', 'xl/styles.xml');
  checkInflatedSize([relsEntry, listEntry, stringsEntry, stylesEntry]);
  const strings = stringsEntry === undefined ? new StringTable() : await readSharedStrings(await openText(zip, stringsEntry), signal);
  const styles = await readStyles(zip, stylesEntry, signal);
  const stringsPart = stringsEntry === undefined ? '' : stringsEntry.fileName.replace(/^\/+/, '');
  return { sheets, strings, stringsPart, ...styles, date1904 };
}

function findPart(entries: Map<string, Entry>, rels: Map<string, string>, kind: string, fallback: string): Entry | undefined {
  for (const target of rels.values()) {
    if (target.replace(/^.*\//, '').toLowerCase() === `${kind.toLowerCase()}.xml`) {
      const entry = entries.get(target.startsWith('/') ? target.slice(1) : `xl/${target}`);
      if (entry) return entry;
    }
  }
  return entries.get(fallback);
}

/** Built-in number formats: which are dates, and the decimals of the others (ECMA-376 §18.8.30). */
const BUILTIN_DATE_FORMATS = new Set([14, 15, 16, 17, 22, 27, 30, 36, 45, 46, 47, 50, 57]);
const BUILTIN_TIME_FORMATS = new Set([18, 19, 20, 21, 22, 45, 46, 47]);
const BUILTIN_DECIMALS: Record<number, number> = { 1: 0, 2: 2, 3: 0, 4: 2, 5: 0, 6: 0, 7: 2, 8: 2, 9: 0, 10: 2, 37: 0, 38: 0, 39: 2, 40: 2, 11: 2, 48: 1 };

async function readStyles(zip: ZipFile, entry: Entry | undefined, signal?: AbortSignal): Promise<{ styleDate: Uint8Array; styleDecimals: Int8Array }> {
  const codes = new Map<number, string>();
  const xfs: number[] = [];
  let inCellXfs = false;
  await parsePart(zip, entry, {
    open: (name, a) => {
      if (name === 'numFmt' && a.numFmtId !== undefined) codes.set(Number(a.numFmtId), a.formatCode ?? '');
      else if (name === 'cellXfs') inCellXfs = true;
      else if (name === 'xf' && inCellXfs) xfs.push(Number(a.numFmtId ?? '0'));
    },
    close: (name) => {
      if (name === 'cellXfs') inCellXfs = false;
    },
  }, signal);
  const styleDate = new Uint8Array(Math.max(1, xfs.length));
  const styleDecimals = new Int8Array(Math.max(1, xfs.length)).fill(-1);
  xfs.forEach((id, i) => {
    const code = codes.get(id);
    if (code === undefined) {
      if (BUILTIN_DATE_FORMATS.has(id)) styleDate[i] = BUILTIN_TIME_FORMATS.has(id) ? 2 : 1;
      styleDecimals[i] = BUILTIN_DECIMALS[id] ?? -1;
      return;
    }
    const format = describeFormat(code);
    styleDate[i] = format.date;
    styleDecimals[i] = format.decimals;
  });
  return { styleDate, styleDecimals };
}

/**
 * What a number format code shows: a date (1), a date with time (2) or a
 * number (0); for a number, the decimals shown (-1 for General, which shows
 * what the cell holds).
 */
export function describeFormat(code: string): { date: 0 | 1 | 2; decimals: number } {
  // The positive section, without quoted text, escapes and [colour]/[$-locale] blocks.
  const section = (code.split(';')[0] ?? '').replace(/"[^"]*"|\\.|_.|\*./g, '').replace(/\[[^\]]*\]/g, (m) => (/^\[(h+|m+|s+)\]$/i.test(m) ? 'h' : ''));
  if (/general/i.test(section) && !/[0#?]/.test(section)) return { date: 0, decimals: -1 };
  if (/[dy]/i.test(section) || (/[hs]/i.test(section) && !/[0#?]/.test(section))) {
    return { date: /[hs]/i.test(section) ? 2 : 1, decimals: 0 };
  }
  if (/E[+-]/i.test(section)) return { date: 0, decimals: -1 };
  const dot = /[0#?]\.([0#?]*)/.exec(section);
  return { date: 0, decimals: dot ? dot[1]!.length : /[0#?]/.test(section) ? 0 : -1 };
}
