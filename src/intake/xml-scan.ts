/**
 * The XML of a workbook's parts, read tag by tag ({@link TagScanner}) in one
 * pass over each chunk: text is handed on as it comes, so a cell of any
 * length is never scanned twice, and what must wait for the next chunk (a
 * tag, comment or CDATA section cut at the chunk's end) is capped
 * ({@link MAX_PENDING_CHARS}).
 */

/** The longest tag, comment or CDATA section read, in characters: far above any real one (a row's tag is a few dozen). */
export const MAX_PENDING_CHARS = 1 << 20;

/**
 * A workbook beyond what paylinks reads (a cell, a tag or a part too large,
 * too many shared strings). Its message says what, for a person; the
 * workbook reader turns it into a file error.
 */
export class WorkbookLimitError extends Error {
  override readonly name = 'WorkbookLimitError';
}

export const TAG_OTHER = 0;
export const TAG_ROW = 1;
export const TAG_C = 2;
export const TAG_V = 3;
export const TAG_F = 4;
export const TAG_T = 5;
export const TAG_RPH = 6;
export const TAG_SI = 7;

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
export function forEachAttribute(text: string, from: number, gt: number, each: (text: string, name: number, nameEnd: number, value: number, valueEnd: number) => void): void {
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
export function decodeXml(text: string): string {
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
export function digitsAt(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return n;
}

/** The column of a cell reference in `ref[from, to)`: `C12` → 2 (0-based). */
export function columnIndex(ref: string, from = 0, to = ref.length): number {
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
export abstract class TagScanner {
  /** Unparsed text: the end of the last chunk, cut inside a tag. */
  #pending = '';

  protected abstract wantsText(): boolean;
  protected abstract text(text: string): void;
  protected abstract open(tag: number, text: string, from: number, gt: number): void;
  protected abstract close(tag: number): void;

  write(chunk: string): void {
    const text = this.#pending === '' ? chunk : this.#pending + chunk;
    this.#pending = text.slice(this.#scan(text));
    if (this.#pending.length > MAX_PENDING_CHARS) {
      throw new WorkbookLimitError(`the XML holds a tag, comment or CDATA section longer than ${MAX_PENDING_CHARS.toLocaleString('en-US')} characters`);
    }
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
      if (lt === -1) {
        if (!this.wantsText()) return length;
        // Text runs on into the next chunk: hand on what is here, keeping back only an entity cut in two (`&am`).
        const amp = text.lastIndexOf('&');
        const keep = amp >= pos && amp > length - 12 && text.indexOf(';', amp) === -1 ? amp : length;
        if (keep > pos) this.text(decodeXml(text.slice(pos, keep)));
        return keep;
      }
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
