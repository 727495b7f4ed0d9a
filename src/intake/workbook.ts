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
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { InputFileError } from '../core/errors.js';
import { numberToDecimal } from '../core/money.js';

/** What a cell holds. The cell's text in {@link SheetRow.cells} is as described for each kind. */
export const CellKind = {
  /** Text, or an empty cell (`''`). */
  text: 0,
  /** A number: the shortest decimal that round-trips (`89.99`, `123`, `0.0001`). */
  number: 1,
  /** A number formatted as a date or time: `2025-04-15`, or `2025-04-15T13:45:00` with a time. */
  date: 2,
  /** `TRUE` or `FALSE`. */
  boolean: 3,
  /** An error value, as the spreadsheet shows it: `#N/A`, `#REF!`, `#DIV/0!`. */
  error: 4,
  /** A formula without a saved result (the file was written by a program that does not calculate): `''`. */
  uncalculated: 5,
} as const;
export type CellKind = (typeof CellKind)[keyof typeof CellKind];

/** One non-empty row of a worksheet. */
export interface SheetRow {
  /** The row number as the spreadsheet shows it (the first row is 1). */
  row: number;
  /** Hidden in the sheet, by hand or by a filter. */
  hidden: boolean;
  /** Each cell as text (see {@link CellKind}), from column A; empty cells are `''`. */
  cells: string[];
  /** What each cell of `cells` holds. */
  kinds: CellKind[];
  /** For number cells: the decimals its number format shows (`$#,##0.00` → 2), or -1 when the format shows what it holds (General). */
  shown: number[];
  /** For formula cells, the formula (for messages); undefined elsewhere. */
  formulas: (string | undefined)[] | undefined;
}

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

  private constructor(file: string, zip: ZipFile, entries: Map<string, Entry>, parts: WorkbookParts) {
    this.file = file;
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
    return { sheets: this.sheets, strings: this.#strings, styleDate: this.#styleDate, styleDecimals: this.#styleDecimals, date1904: this.#date1904 };
  }

  /**
   * Opens `file` as a workbook. Throws {@link InputFileError}
   * (`FILE_UNDECODABLE`) when it is a zip but not an Excel workbook, or a
   * damaged one. `parts`: those of an earlier open of the same file (the
   * shared strings of a large sheet take a second or two to read).
   */
  static async open(file: string, parts?: WorkbookParts): Promise<Workbook> {
    let zip: ZipFile;
    try {
      zip = await new Promise<ZipFile>((resolve, reject) => {
        yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true }, (error, opened) => (error ? reject(error) : resolve(opened)));
      });
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
      return new Workbook(file, zip, entries, parts ?? (await readParts(file, zip, entries)));
    } catch (error) {
      zip.close();
      if (error instanceof InputFileError) throw error;
      throw new InputFileError('FILE_UNDECODABLE', file, `this Excel workbook is damaged and cannot be read: ${(error as Error).message}`, undefined, error);
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
  async *rows(sheet: SheetInfo): AsyncGenerator<SheetRow[]> {
    const entry = this.#entries.get(sheet.part);
    if (entry === undefined) throw new InputFileError('FILE_UNDECODABLE', this.file, `the workbook is damaged: sheet ${JSON.stringify(sheet.name)} is missing (${sheet.part})`);
    const stream = await openEntry(this.#zip, entry);
    const reader = new SheetReader(this.#strings, this.#styleDate, this.#styleDecimals, this.#date1904);
    try {
      stream.setEncoding('utf8');
      for await (const chunk of stream as AsyncIterable<string>) {
        reader.write(chunk);
        const batch = reader.take();
        if (batch.length > 0) yield batch;
      }
      reader.end();
      const rest = reader.take();
      if (rest.length > 0) yield rest;
    } catch (error) {
      if (error instanceof InputFileError) throw error;
      throw new InputFileError('FILE_UNDECODABLE', this.file, `sheet ${JSON.stringify(sheet.name)} of this workbook is damaged and cannot be read: ${(error as Error).message}`, undefined, error);
    } finally {
      stream.destroy();
    }
  }

  close(): void {
    this.#zip.close();
  }
}

export interface WorkbookParts {
  sheets: SheetInfo[];
  strings: StringTable;
  styleDate: Uint8Array;
  styleDecimals: Int8Array;
  date1904: boolean;
}

function listEntries(zip: ZipFile): Promise<Map<string, Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, Entry>();
    zip.on('entry', (entry: Entry) => {
      entries.set(entry.fileName.replace(/^\/+/, ''), entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', reject);
    zip.readEntry();
  });
}

function openEntry(zip: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => (error ? reject(error) : resolve(stream)));
  });
}

/** Parses a small part whole, calling `onTag` for every opening tag (local name, no namespace prefix) and `onText` inside. */
async function parsePart(zip: ZipFile, entry: Entry | undefined, handlers: { open: (name: string, attributes: Record<string, string>) => void; close?: (name: string) => void; text?: (text: string) => void }): Promise<void> {
  if (entry === undefined) return;
  const parser = new SaxesParser<PlainXml>({ xmlns: false, position: false });
  parser.on('opentag', (tag: SaxesTagPlain) => handlers.open(localName(tag.name), tag.attributes));
  if (handlers.close) {
    const close = handlers.close;
    parser.on('closetag', (tag: SaxesTagPlain) => close(localName(tag.name)));
  }
  if (handlers.text) parser.on('text', handlers.text);
  const stream = await openEntry(zip, entry);
  stream.setEncoding('utf8');
  for await (const chunk of stream as AsyncIterable<string>) parser.write(chunk);
  parser.close();
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

async function readParts(file: string, zip: ZipFile, entries: Map<string, Entry>): Promise<WorkbookParts> {
  const rels = new Map<string, string>();
  await parsePart(zip, entries.get('xl/_rels/workbook.xml.rels'), {
    open: (name, a) => {
      if (name === 'Relationship' && a.Id !== undefined && a.Target !== undefined) rels.set(a.Id, a.Target);
    },
  });

  const sheets: SheetInfo[] = [];
  let date1904 = false;
  await parsePart(zip, entries.get('xl/workbook.xml'), {
    open: (name, a) => {
      if (name === 'workbookPr') date1904 = a.date1904 === '1' || a.date1904 === 'true';
      if (name !== 'sheet') return;
      const id = a['r:id'] ?? Object.entries(a).find(([k]) => k.endsWith(':id'))?.[1];
      const target = id === undefined ? undefined : rels.get(id);
      if (target === undefined || a.name === undefined) return;
      const part = target.startsWith('/') ? target.slice(1) : `xl/${target}`.replace(/\/\.\//g, '/');
      sheets.push({ name: a.name, number: sheets.length + 1, state: a.state ?? 'visible', part });
    },
  });
  if (sheets.length === 0) throw new InputFileError('FILE_NO_ROWS', file, 'the workbook has no worksheet');

  const strings = await readSharedStrings(zip, findPart(entries, rels, 'sharedStrings', 'xl/sharedStrings.xml'));
  const styles = await readStyles(zip, findPart(entries, rels, 'styles', 'xl/styles.xml'));
  return { sheets, strings, ...styles, date1904 };
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

/** The shared strings: each `<si>`'s text runs joined (phonetic runs, `<rPh>`, left out). */
async function readSharedStrings(zip: ZipFile, entry: Entry | undefined): Promise<StringTable> {
  if (entry === undefined) return new StringTable();
  const reader = new SharedStringsReader();
  const stream = await openEntry(zip, entry);
  stream.setEncoding('utf8');
  for await (const chunk of stream as AsyncIterable<string>) reader.write(chunk);
  reader.end();
  reader.strings.finish();
  return reader.strings;
}

/** Built-in number formats: which are dates, and the decimals of the others (ECMA-376 §18.8.30). */
const BUILTIN_DATE_FORMATS = new Set([14, 15, 16, 17, 22, 27, 30, 36, 45, 46, 47, 50, 57]);
const BUILTIN_TIME_FORMATS = new Set([18, 19, 20, 21, 22, 45, 46, 47]);
const BUILTIN_DECIMALS: Record<number, number> = { 1: 0, 2: 2, 3: 0, 4: 2, 5: 0, 6: 0, 7: 2, 8: 2, 9: 0, 10: 2, 37: 0, 38: 0, 39: 2, 40: 2, 11: 2, 48: 1 };

async function readStyles(zip: ZipFile, entry: Entry | undefined): Promise<{ styleDate: Uint8Array; styleDecimals: Int8Array }> {
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
  });
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

const MS_PER_DAY = 86_400_000;
/** Day 0 of the 1900 date system, shifted by Excel's phantom 1900-02-29 (serials from 61 on). */
const EPOCH_1900 = Date.UTC(1899, 11, 30);
const EPOCH_1904 = Date.UTC(1904, 0, 1);

/** A date serial as an ISO date, or date and time (to the second) when `withTime` or when it has a time part. */
export function serialToIso(serial: number, date1904: boolean, withTime: boolean): string {
  const ms = Math.round(serial * MS_PER_DAY / 1000) * 1000;
  const date = new Date((date1904 ? EPOCH_1904 : serial < 61 ? EPOCH_1900 + MS_PER_DAY : EPOCH_1900) + ms);
  const iso = date.toISOString();
  return withTime || ms % MS_PER_DAY !== 0 ? iso.slice(0, 19) : iso.slice(0, 10);
}

const NO_FORMULAS = undefined;


/**
 * A scanner over the XML of a workbook part: calls {@link open} and
 * {@link close} for the tags {@link tagOf} knows, and {@link text} for the
 * text while {@link wantsText}.
 *
 * Not a general XML parser: a worksheet is millions of small, regular tags,
 * and a SAX parser that builds an attribute object for each one read only
 * about 55,000 rows/s here (and its garbage grew the heap by 100 MB over the
 * shared strings of a 1,000,000-row sheet). This reads tags with their
 * attributes in either quote, namespace prefixes, entities, CDATA and
 * comments, and steps over every tag it does not know.
 */
abstract class TagScanner {
  /** Unparsed text: the end of the last chunk, cut inside a tag. */
  #pending = '';

  protected abstract wantsText(): boolean;
  protected abstract text(text: string): void;
  protected abstract open(tag: number, text: string, from: number, gt: number): void;
  protected abstract close(tag: number): void;

  write(chunk: string): void {
    const text = this.#pending === '' ? chunk : this.#pending + chunk;
    this.#pending = text.slice(this.#scan(text));
  }

  end(): void {
    if (this.#pending.trim() !== '') throw new Error('the sheet XML ends in the middle of a tag');
  }

  /** Reads every complete tag of `text`; returns where the unread rest starts. */
  #scan(text: string): number {
    let pos = 0;
    const length = text.length;
    while (pos < length) {
      const lt = text.indexOf('<', pos);
      if (lt === -1) return !this.wantsText() ? length : pos;
      if (lt > pos && this.wantsText()) this.text(decodeXml(text.slice(pos, lt)));
      const next = text.charCodeAt(lt + 1);
      if (next === 0x21 /* ! */) {
        const skipped = this.#special(text, lt);
        if (skipped === -1) return lt;
        pos = skipped;
        continue;
      }
      const gt = tagEnd(text, lt);
      if (gt === -1) return lt;
      pos = gt + 1;
      if (next === 0x3f /* ? */) continue;
      const closing = next === 0x2f;
      // The local name, without a namespace prefix, as [start, end).
      let start = closing ? lt + 2 : lt + 1;
      let end = start;
      for (; end < gt; end++) {
        const c = text.charCodeAt(end);
        if (c <= 0x20 || c === 0x2f) break;
        if (c === 0x3a /* : */) start = end + 1;
      }
      const tag = tagOf(text, start, end);
      if (tag === TAG_OTHER) continue;
      if (closing) {
        this.close(tag);
        continue;
      }
      this.open(tag, text, end, gt);
      if (text.charCodeAt(gt - 1) === 0x2f) this.close(tag);
    }
    return pos;
  }

  /** `<![CDATA[`, `<!--` or `<!DOCTYPE`: where the text after it starts, or -1 if it is cut. */
  #special(text: string, lt: number): number {
    if (text.startsWith('<![CDATA[', lt)) {
      const close = text.indexOf(']]>', lt + 9);
      if (close === -1) return -1;
      if (this.wantsText()) this.text(text.slice(lt + 9, close));
      return close + 3;
    }
    const close = text.startsWith('<!--', lt) ? text.indexOf('-->', lt + 4) : text.indexOf('>', lt);
    if (close === -1) return -1;
    return close + (text.charCodeAt(close) === 0x2d ? 3 : 1);
  }

}

/**
 * The rows of one worksheet's XML, from the tags a row is made of (`row`,
 * `c`, `v`, `f`, `is`/`t`); {@link take} hands over the rows parsed so far.
 */
class SheetReader extends TagScanner {
  readonly #strings: StringTable;
  readonly #styleDate: Uint8Array;
  readonly #styleDecimals: Int8Array;
  readonly #date1904: boolean;
  #rows: SheetRow[] = [];
  #row: SheetRow | null = null;
  #lastRow = 0;
  #filled = false;
  // The cell being read.
  #col = -1;
  #type = '';
  #style = 0;
  #formula: string | null = null;
  #value = '';
  /** 0 outside, 1 in <v>, 2 in <f>, 3 in an inline string's <t>. */
  #textIn = 0;
  #inCell = false;
  #phonetic = false;

  constructor(strings: StringTable, styleDate: Uint8Array, styleDecimals: Int8Array, date1904: boolean) {
    super();
    this.#strings = strings;
    this.#styleDate = styleDate;
    this.#styleDecimals = styleDecimals;
    this.#date1904 = date1904;
  }

  take(): SheetRow[] {
    const rows = this.#rows;
    if (rows.length > 0) this.#rows = [];
    return rows;
  }

  protected wantsText(): boolean {
    return this.#textIn !== 0;
  }

  protected open(tag: number, text: string, from: number, gt: number): void {
    switch (tag) {
      case TAG_ROW: {
        this.#rowNumber = -1;
        this.#hidden = false;
        forEachAttribute(text, from, gt, this.#rowAttribute);
        const row = this.#rowNumber === -1 ? this.#lastRow + 1 : this.#rowNumber;
        this.#lastRow = row;
        this.#filled = false;
        this.#col = -1;
        this.#row = { row, hidden: this.#hidden, cells: [], kinds: [], shown: [], formulas: NO_FORMULAS };
        break;
      }
      case TAG_C: {
        this.#col += 1;
        this.#type = 'n';
        this.#style = 0;
        forEachAttribute(text, from, gt, this.#cellAttribute);
        this.#formula = null;
        this.#value = '';
        this.#inCell = true;
        break;
      }
      case TAG_V:
        if (this.#inCell) this.#textIn = 1;
        break;
      case TAG_F:
        if (this.#inCell) {
          this.#formula ??= '';
          this.#textIn = 2;
        }
        break;
      case TAG_T:
        if (this.#inCell && this.#type === 'inlineStr' && !this.#phonetic) this.#textIn = 3;
        break;
      case TAG_RPH:
        this.#phonetic = true;
        break;
    }
  }

  // Attributes are looked at where they are in the text: no string per name or value.
  #rowNumber = -1;
  #hidden = false;
  readonly #rowAttribute = (text: string, name: number, nameEnd: number, value: number, valueEnd: number): void => {
    if (nameEnd - name === 1 && text.charCodeAt(name) === 0x72 /* r */) this.#rowNumber = digitsAt(text, value, valueEnd);
    else if (nameEnd - name === 6 && text.startsWith('hidden', name)) this.#hidden = valueEnd - value > 0 && (text.charCodeAt(value) === 0x31 || text.charCodeAt(value) === 0x74);
  };

  readonly #cellAttribute = (text: string, name: number, nameEnd: number, value: number, valueEnd: number): void => {
    if (nameEnd - name !== 1) return;
    switch (text.charCodeAt(name)) {
      case 0x72 /* r */:
        this.#col = columnIndex(text, value, valueEnd);
        break;
      case 0x74 /* t */:
        this.#type = valueEnd - value === 1 ? text[value]! : text.slice(value, valueEnd);
        break;
      case 0x73 /* s */:
        this.#style = digitsAt(text, value, valueEnd);
        break;
    }
  };

  protected text(text: string): void {
    if (this.#textIn === 2) this.#formula += text;
    else this.#value += text;
  }

  protected close(tag: number): void {
    switch (tag) {
      case TAG_V:
      case TAG_F:
      case TAG_T:
        this.#textIn = 0;
        break;
      case TAG_RPH:
        this.#phonetic = false;
        break;
      case TAG_C:
        if (this.#inCell) {
          this.#inCell = false;
          this.#textIn = 0;
          this.#endCell();
        }
        break;
      case TAG_ROW:
        if (this.#row !== null && this.#filled) this.#rows.push(this.#row);
        this.#row = null;
        break;
    }
  }

  #endCell(): void {
    const row = this.#row;
    if (row === null || this.#col < 0) return;
    let kind: CellKind = CellKind.text;
    let text = '';
    let shown = -1;
    const value = this.#value;
    if (this.#formula !== null && value === '' && this.#type !== 'str') {
      kind = CellKind.uncalculated;
    } else if (value === '') {
      return; // an empty cell (perhaps formatted), or a formula whose result is empty text
    } else {
      switch (this.#type) {
        case 's':
          text = this.#strings.get(Number(value));
          break;
        case 'inlineStr':
        case 'str':
          text = unescapeOoxml(value);
          break;
        case 'b':
          kind = CellKind.boolean;
          text = value === '1' || value === 'true' ? 'TRUE' : 'FALSE';
          break;
        case 'e':
          kind = CellKind.error;
          text = value;
          break;
        case 'd':
          kind = CellKind.date;
          text = value.length > 10 && !/T00:00(:00(\.0+)?)?Z?$/.test(value) ? value.replace(/Z$/, '').slice(0, 19) : value.slice(0, 10);
          break;
        default: {
          const number = Number(value);
          if (!Number.isFinite(number)) {
            kind = CellKind.error;
            text = value;
            break;
          }
          const date = this.#styleDate[this.#style] ?? 0;
          if (date !== 0) {
            kind = CellKind.date;
            text = serialToIso(number, this.#date1904, date === 2);
          } else {
            kind = CellKind.number;
            text = numberToDecimal(number);
            shown = this.#styleDecimals[this.#style] ?? -1;
          }
        }
      }
    }
    if (text === '' && kind === CellKind.text) return;
    const col = this.#col;
    const { cells, kinds, shown: shownList } = row;
    while (cells.length < col) {
      cells.push('');
      kinds.push(CellKind.text);
      shownList.push(-1);
    }
    cells[col] = text;
    kinds[col] = kind;
    shownList[col] = shown;
    if (this.#formula !== null) {
      row.formulas ??= [];
      row.formulas[col] = this.#formula;
    }
    this.#filled = true;
  }
}

const TAG_OTHER = 0;
const TAG_ROW = 1;
const TAG_C = 2;
const TAG_V = 3;
const TAG_F = 4;
const TAG_T = 5;
const TAG_RPH = 6;
const TAG_SI = 7;

/** Which of the tags a row is made of `text[start, end)` names. */
function tagOf(text: string, start: number, end: number): number {
  const length = end - start;
  if (length === 1) {
    switch (text.charCodeAt(start)) {
      case 0x63 /* c */:
        return TAG_C;
      case 0x76 /* v */:
        return TAG_V;
      case 0x66 /* f */:
        return TAG_F;
      case 0x74 /* t */:
        return TAG_T;
    }
    return TAG_OTHER;
  }
  if (length === 2 && text.startsWith('si', start)) return TAG_SI;
  if (length === 3) {
    if (text.startsWith('row', start)) return TAG_ROW;
    if (text.startsWith('rPh', start)) return TAG_RPH;
  }
  return TAG_OTHER;
}

/** The index of the `>` that ends the tag opening at `lt` (quoted `>` skipped), or -1 if the text ends first. */
function tagEnd(text: string, lt: number): number {
  let quote = 0;
  for (let i = lt + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 0x3e) return i;
    else if (c === 0x22 || c === 0x27) quote = c;
  }
  return -1;
}

/**
 * Calls `each` with where every attribute of the tag between `from` and `gt`
 * is: its name (without prefix) `[name, nameEnd)` and its raw value
 * `[value, valueEnd)` (the attributes read here hold no entities).
 */
function forEachAttribute(text: string, from: number, gt: number, each: (text: string, name: number, nameEnd: number, value: number, valueEnd: number) => void): void {
  let i = from;
  while (i < gt) {
    const eq = text.indexOf('=', i);
    if (eq === -1 || eq >= gt) return;
    let nameStart = i;
    while (nameStart < eq && text.charCodeAt(nameStart) <= 0x20) nameStart++;
    for (let k = nameStart; k < eq; k++) if (text.charCodeAt(k) === 0x3a) nameStart = k + 1;
    let nameEnd = eq;
    while (nameEnd > nameStart && text.charCodeAt(nameEnd - 1) <= 0x20) nameEnd--;
    let q = eq + 1;
    while (q < gt && text.charCodeAt(q) <= 0x20) q++;
    const quote = text.charCodeAt(q);
    const close = text.indexOf(quote === 0x27 ? "'" : '"', q + 1);
    if (close === -1 || close > gt) return;
    each(text, nameStart, nameEnd, q + 1, close);
    i = close + 1;
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Replaces XML entities and character references. */
function decodeXml(text: string): string {
  if (text.indexOf('&') === -1) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number(ref.slice(1)));
    return ENTITIES[ref] ?? whole;
  });
}

/** OOXML's escape for characters XML cannot hold: `_x000D_` is a carriage return. */
export function unescapeOoxml(text: string): string {
  if (text.indexOf('_x') === -1) return text;
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** The decimal digits of `text[from, to)` as a number (0 when none). */
function digitsAt(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return n;
}

/** The column of a cell reference in `ref[from, to)`: `C12` → 2 (0-based). */
function columnIndex(ref: string, from = 0, to = ref.length): number {
  let col = 0;
  for (let i = from; i < to; i++) {
    const code = ref.charCodeAt(i);
    if (code >= 65 && code <= 90) col = col * 26 + (code - 64);
    else if (code >= 97 && code <= 122) col = col * 26 + (code - 96);
    else break;
  }
  return col - 1;
}

/** 2 → `C`. */
export function columnName(index: number): string {
  let name = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

/** The shared-string table, `<si>` by `<si>`. */
class SharedStringsReader extends TagScanner {
  readonly strings = new StringTable();
  #current: string | null = null;
  #inText = false;
  #phonetic = false;

  protected wantsText(): boolean {
    return this.#inText;
  }

  protected text(text: string): void {
    if (this.#current !== null) this.#current += text;
  }

  protected open(tag: number): void {
    if (tag === TAG_SI) this.#current = '';
    else if (tag === TAG_RPH) this.#phonetic = true;
    else if (tag === TAG_T && !this.#phonetic) this.#inText = true;
  }

  protected close(tag: number): void {
    if (tag === TAG_SI) {
      this.strings.add(unescapeOoxml(this.#current ?? ''));
      this.#current = null;
    } else if (tag === TAG_RPH) this.#phonetic = false;
    else if (tag === TAG_T) this.#inText = false;
  }
}

/** Strings per block of a {@link StringTable}. */
const BLOCK_STRINGS = 4096;

/**
 * The shared strings, packed: each block of {@link BLOCK_STRINGS} strings is
 * one string, with the offsets in a typed array. A million short strings as
 * separate objects cost about 40 bytes each beyond their text; packed, 4.
 */
export class StringTable {
  readonly #blocks: string[] = [];
  /** Where each string starts in its block; one more per block for its end. */
  #starts = new Uint32Array(BLOCK_STRINGS + 1);
  #count = 0;
  #open: string[] = [];
  #openLength = 0;

  get length(): number {
    return this.#count;
  }

  add(text: string): void {
    const slot = this.#count + Math.floor(this.#count / BLOCK_STRINGS);
    if (slot + 2 > this.#starts.length) {
      const grown = new Uint32Array(this.#starts.length * 2);
      grown.set(this.#starts);
      this.#starts = grown;
    }
    this.#starts[slot] = this.#openLength;
    this.#open.push(text);
    this.#openLength += text.length;
    this.#count += 1;
    if (this.#count % BLOCK_STRINGS === 0) this.#close();
  }

  /** Packs the last block; call once every string is added. */
  finish(): void {
    if (this.#open.length > 0) this.#close();
  }

  /** String `index`, or `''` when there is none. */
  get(index: number): string {
    if (!(index >= 0 && index < this.#count)) return '';
    const block = this.#blocks[Math.floor(index / BLOCK_STRINGS)];
    if (block === undefined) return '';
    const slot = index + Math.floor(index / BLOCK_STRINGS);
    return block.slice(this.#starts[slot], this.#starts[slot + 1]);
  }

  #close(): void {
    const slot = this.#count + Math.floor((this.#count - 1) / BLOCK_STRINGS);
    this.#starts[slot] = this.#openLength;
    this.#blocks.push(this.#open.join(''));
    this.#open = [];
    this.#openLength = 0;
  }
}
