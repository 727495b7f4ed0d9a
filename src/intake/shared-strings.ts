/**
 * A workbook's shared strings (`xl/sharedStrings.xml`): the text cells of
 * every sheet refer to them by index, so they are read whole before the
 * sheet, and held packed ({@link StringTable}).
 *
 * Bounded: a string longer than Excel's own cell limit
 * ({@link MAX_CELL_CHARS}) or more strings than {@link MAX_SHARED_STRINGS}
 * end the read at once with a {@link WorkbookLimitError}: a small file of
 * millions of empty strings must not pass after a minute of work.
 */
import { TAG_RPH, TAG_SI, TAG_T, TagScanner, unescapeOoxml, WorkbookLimitError } from './xml-scan.js';

/** The longest text a cell may hold, in characters: Excel's own limit (32,767). */
export const MAX_CELL_CHARS = 32_767;
/**
 * The most shared strings read: a 1,000,000-row sheet of unique invoice
 * numbers, customers and descriptions has 3,000,000.
 */
export const MAX_SHARED_STRINGS = 5_000_000;

/** Reads the shared-strings part from its text chunks; `signal` stops it at the next chunk. */
export async function readSharedStrings(chunks: AsyncIterable<string>, signal?: AbortSignal): Promise<StringTable> {
  const reader = new SharedStringsReader();
  for await (const chunk of chunks) {
    signal?.throwIfAborted();
    reader.write(chunk);
  }
  reader.end();
  reader.strings.finish();
  return reader.strings;
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
    if (this.#current === null) return;
    if (this.#current.length + text.length > MAX_CELL_CHARS) {
      throw new WorkbookLimitError(
        `shared string ${(this.strings.length + 1).toLocaleString('en-US')} is longer than ${MAX_CELL_CHARS.toLocaleString('en-US')} characters, Excel's own limit for a cell: no invoice field is that long`,
      );
    }
    this.#current += text;
  }

  protected open(tag: number): void {
    if (tag === TAG_SI) {
      if (this.strings.length >= MAX_SHARED_STRINGS) {
        throw new WorkbookLimitError(`the workbook holds more than ${MAX_SHARED_STRINGS.toLocaleString('en-US')} shared strings (texts), more than any file of invoices needs`);
      }
      this.#current = '';
    }
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
