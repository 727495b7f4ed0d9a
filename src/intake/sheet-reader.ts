/**
 * A worksheet's XML read into rows ({@link SheetReader}): the cells of each
 * row as text, with what each holds ({@link CellKind}). A cell's text, its
 * formula included, is capped at {@link MAX_CELL_CHARS}: past it the read
 * stops at once with a {@link WorkbookLimitError} naming the cell.
 */
import { numberToDecimal } from '../core/money.js';
import { MAX_CELL_CHARS, type StringTable } from './shared-strings.js';
import {
  columnIndex,
  columnName,
  digitsAt,
  forEachAttribute,
  TAG_C,
  TAG_F,
  TAG_ROW,
  TAG_RPH,
  TAG_T,
  TAG_V,
  TagScanner,
  unescapeOoxml,
  WorkbookLimitError,
} from './xml-scan.js';

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
 * The rows of one worksheet's XML, from the tags a row is made of (`row`,
 * `c`, `v`, `f`, `is`/`t`); {@link take} hands over the rows parsed so far.
 */
export class SheetReader extends TagScanner {
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
    const held = this.#textIn === 2 ? (this.#formula ?? '') : this.#value;
    if (held.length + text.length > MAX_CELL_CHARS) {
      const cell = `${columnName(Math.max(0, this.#col))}${this.#row?.row ?? this.#lastRow}`;
      throw new WorkbookLimitError(
        `cell ${cell} holds more than ${MAX_CELL_CHARS.toLocaleString('en-US')} characters, Excel's own limit for a cell: no invoice field is that long`,
      );
    }
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
