/**
 * Quoting a value from a file in a message: at most the first few dozen
 * characters. A cell may hold megabytes (by mistake or on purpose); a message
 * is stored with its row, sent in answers and written to error files, so it
 * never carries more than a glimpse of the value (issue 20, item 16).
 */

/** How many characters of a value a message quotes. */
export const QUOTED_CHARACTERS = 40;

/** `"the value"` in JSON quotes, cut to {@link QUOTED_CHARACTERS} characters with `…` and its length when longer. */
export function quoteValue(text: string, max = QUOTED_CHARACTERS): string {
  if (text.length <= max) return JSON.stringify(text);
  // Never cut a surrogate pair in two.
  const end = /[\uD800-\uDBFF]/.test(text[max - 1] ?? '') ? max - 1 : max;
  return `${JSON.stringify(text.slice(0, end))}… (${text.length.toLocaleString('en-US')} characters)`;
}
