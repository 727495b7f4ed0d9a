/**
 * Money: integer cents inside the program, decimal strings at the edges.
 *
 * Nothing here goes through a binary float: amounts are parsed digit by digit
 * into a bigint-safe integer count of cents, and formatted back the same way.
 */
import { foreignCurrencyIn } from './currency.js';
import type { RowErrorCode } from './errors.js';
import { quoteValue } from './quote.js';

/**
 * The largest amount accepted, in cents (9,999,999,999.99). Far above any real
 * invoice, and small enough that `cents` and `cents / 100` stay exact.
 */
export const MAX_AMOUNT_CENTS = 999_999_999_999;

export type AmountParse = { ok: true; cents: number } | { ok: false; code: RowErrorCode; message: string };

const CURRENCY_PREFIX = /^(?:US\$|\$|USD\s?)\s*/i;
const CURRENCY_SUFFIX = /\s*(?:USD|\$)$/i;
/** Longer than any amount (`$ 9,999,999,999.99 USD` is 22): not read further, and quoted only in part. */
const MAX_AMOUNT_TEXT = 40;
/** US style: optional comma thousands groups, optional dot decimals (`5.` is 5). */
const US_STYLE = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d*))?$/;
/**
 * Decimal comma, as European exports write it: `1234,56` or `1.234,56`. Only
 * taken when it cannot be read as US thousands (`1,234` is one thousand ...).
 */
const COMMA_DECIMAL = /^(\d{1,3}(?:\.\d{3})+|\d+),(\d{1,2})$/;

/** Which character separates the cents: `12.50` (point) or `12,50` (comma). */
export type DecimalMark = 'point' | 'comma';

/** Decimal comma with groups of thousands by dots: `1.234,56`, `12,5`, `1.234.567`. */
const EU_STYLE = /^(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?$/;

interface AmountParts {
  raw: string;
  negative: boolean;
  /** The number without sign, currency or space separators. */
  text: string;
}

/** How the sign of a negative amount was written, for its message. */
type Minus = '' | 'sign' | 'parentheses' | 'trailing' | 'credit';

interface AmountPartsFull extends AmountParts {
  minus: Minus;
}

const MINUS_SIGNS = /^[-\u2212\u2012\u2013]/;
const TRAILING_MINUS = /[-\u2212\u2012\u2013]$/;

/** Strips sign, currency and separators (spaces, Swiss apostrophes); or says why it is not an amount. */
function amountParts(raw: string): AmountPartsFull | AmountParse {
  let text = raw.trim();
  if (text === '') return { ok: false, code: 'MISSING_AMOUNT', message: 'the amount is empty' };
  if (text.length > MAX_AMOUNT_TEXT) {
    return { ok: false, code: 'INVALID_AMOUNT', message: `${quoteValue(text)} is not an amount` };
  }
  if (text.startsWith('=')) {
    return {
      ok: false,
      code: 'INVALID_AMOUNT',
      message: `"${text}" is a formula saved as text, not its result: save the sheet with the formula's values (or type the amount)`,
    };
  }
  const foreign = foreignCurrencyIn(text);
  if (foreign !== undefined) {
    return { ok: false, code: 'INVALID_AMOUNT', message: `"${text}" is not in US dollars (it is in ${foreign}); Paywint charges USD` };
  }
  let minus: Minus = '';
  if (/^\(.*\)$/.test(text)) {
    minus = 'parentheses';
    text = text.slice(1, -1).trim();
  }
  if (/\s?CR$/i.test(text) && /\d/.test(text)) {
    minus = 'credit';
    text = text.replace(/\s?CR$/i, '').trim();
  }
  if (MINUS_SIGNS.test(text) || text.startsWith('+')) {
    if (!text.startsWith('+')) minus ||= 'sign';
    text = text.slice(1).trim();
  }
  text = text.replace(CURRENCY_PREFIX, '').replace(CURRENCY_SUFFIX, '');
  if (MINUS_SIGNS.test(text)) {
    minus ||= 'sign';
    text = text.slice(1);
  }
  if (TRAILING_MINUS.test(text) && /\d/.test(text)) {
    minus ||= 'trailing';
    text = text.slice(0, -1).trim();
  }
  // Spaces (also no-break and thin spaces) and Swiss apostrophes as thousands separators: `1 234.56`, `1'234.50`, `1’234.50`.
  text = text.replace(/(\d)[\s\u00a0\u202f'\u2019](?=\d{3}(?:\D|$))/g, '$1');
  // `.5` is 0.5: nothing else reads it.
  if (text.startsWith('.')) text = `0${text}`;
  return { raw: raw.trim(), negative: minus !== '', minus, text };
}

/** Why `text` (trimmed) is not an amount, where the reason is known: a percentage, a date. */
function notAnAmount(raw: string): AmountParse & { ok: false } {
  const text = raw.trim();
  let why = '';
  if (/%\s*$/.test(text) || /^%/.test(text)) why = ': it is a percentage';
  else if (DATE.test(text)) why = ': it looks like a date';
  return { ok: false, code: 'INVALID_AMOUNT', message: `"${text}" is not an amount${why}` };
}

/** Dates as exports write them: `2025-04-15`, `15/04/2025`, `4/15/25`, `15.04.2025`, `15-Apr-2025`, `Apr 15, 2025`. */
const DATE = /^(?:\d{4}-\d{1,2}-\d{1,2}(?:[T ][\d:.]+Z?)?|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{1,2}[\s-][A-Za-z]{3,9}[\s-]\d{2,4}|[A-Za-z]{3,9}\.?\s\d{1,2},?\s\d{4})$/;

/**
 * Parses an amount as finance exports write it (`150.75`, `$1,234.56`,
 * `1234,5`) into integer cents, deciding the decimal mark cell by cell (a
 * point where both readings fit: `1,234` is 1234). Rejects zero, negatives,
 * more than two decimals, and anything that is not plainly a number. For an
 * invoice file, where the mark is decided per file, see {@link readAmount}.
 */
export function parseAmount(raw: string): AmountParse {
  const parts = amountParts(raw);
  if ('ok' in parts) return parts;
  const us = US_STYLE.exec(parts.text);
  if (us) return toCents(parts, us[1]!.replace(/,/g, ''), us[2] ?? '', EU_STYLE.exec(parts.text) === null);
  const eu = COMMA_DECIMAL.exec(parts.text);
  if (eu) return toCents(parts, eu[1]!.replace(/\./g, ''), eu[2]!, true);
  return notAnAmount(parts.raw);
}

export type AmountRead = (AmountParse & { ok: false }) | { ok: true; cents: number; mark: DecimalMark | null };

/**
 * Reads an amount of a file whose decimal mark is `mark` (undefined: not
 * known yet). The result's `mark` is the mark the amount itself shows
 * (`12,50`: comma; `1,234.56`: point; `80`: null), which decides the file's.
 * An amount that fits both (`1,234`, `1.234`) is `AMBIGUOUS_AMOUNT` while the
 * mark is unknown; one that contradicts `mark` is `INVALID_AMOUNT`, its
 * message ending with `because` (why the file's mark is what it is).
 */
export function readAmount(raw: string, mark: DecimalMark | undefined, because = ''): AmountRead {
  const parts = amountParts(raw);
  if ('ok' in parts) return parts as AmountParse & { ok: false };
  const us = US_STYLE.exec(parts.text);
  const eu = EU_STYLE.exec(parts.text);
  if (us === null && eu === null) return notAnAmount(parts.raw);
  const plain = /^\d+$/.test(parts.text);
  const shows: DecimalMark | null = plain ? null : us !== null && eu !== null ? null : us !== null ? 'point' : 'comma';
  if (!plain && shows === null && mark === undefined) {
    const [point, comma] = bothReadings(parts.text);
    return {
      ok: false,
      code: 'AMBIGUOUS_AMOUNT',
      message:
        `"${parts.raw}" reads as ${point} with a decimal point, or as ${comma} with a decimal comma, and no other amount in the file says which it uses: ` +
        'state it with --decimal point or --decimal comma',
    };
  }
  const use = shows ?? mark ?? 'point';
  if (mark !== undefined && shows !== null && shows !== mark) {
    return {
      ok: false,
      code: 'INVALID_AMOUNT',
      message: `"${parts.raw}" is written with a decimal ${shows}, but this file's amounts use a decimal ${mark}${because}`,
    };
  }
  const match = use === 'point' ? us : eu;
  if (match === null) return notAnAmount(parts.raw);
  const whole = use === 'point' ? match[1]!.replace(/,/g, '') : match[1]!.replace(/\./g, '');
  const result = toCents(parts, whole, match[2] ?? '', shows !== null);
  if (result.ok) return { ok: true, cents: result.cents, mark: shows };
  // An amount that reads two ways: say which way it was read, and why.
  if (!plain && shows === null) return { ...result, message: `${result.message}, read with this file's decimal ${use}${because}` };
  return result;
}

/** `1,234` → `["1234", "1.234"]`: how an ambiguous amount reads with a point and with a comma. */
function bothReadings(text: string): [string, string] {
  const sep = text.includes(',') ? ',' : '.';
  const asPoint = sep === ',' ? text.replace(/,/g, '') : text;
  const asComma = sep === '.' ? text.replace(/\./g, '') : text.replace(',', '.');
  return [asPoint, asComma];
}

/** Why a negative amount is negative, as its message says. */
const NEGATIVE: Record<Exclude<Minus, ''>, string> = {
  sign: 'is negative (a minus sign: a credit note?)',
  parentheses: 'is negative (in parentheses, as accounting writes a credit)',
  trailing: 'is negative (a trailing minus, as accounting exports write a credit note)',
  credit: 'is a credit (CR), not an amount owed',
};

/**
 * `zerosExact`: the amount shows its decimal mark itself, so zeros after the
 * second decimal (`10.50000`) are exact and dropped; where it also reads as
 * thousands (`1.500`) they are not, and count as decimals.
 */
function toCents(parts: AmountPartsFull, wholeDigits: string, fraction: string, zerosExact: boolean): AmountParse {
  const { raw, negative } = parts;
  const digits = zerosExact && fraction.length > 2 ? fraction.replace(/0+$/, '') : fraction;
  if (digits.length > 2) {
    return { ok: false, code: 'AMOUNT_TOO_PRECISE', message: `"${raw}" has more than two decimals` };
  }
  const whole = wholeDigits.replace(/^0+(?=\d)/, '');
  if (whole.length > 10) {
    return { ok: false, code: 'AMOUNT_TOO_LARGE', message: `"${raw}" is above ${formatCents(MAX_AMOUNT_CENTS)}` };
  }
  const cents = Number(whole) * 100 + Number(digits.padEnd(2, '0'));
  if (negative && cents !== 0) {
    return { ok: false, code: 'AMOUNT_NOT_POSITIVE', message: `"${raw}" ${NEGATIVE[parts.minus === '' ? 'sign' : parts.minus]}; Paywint links collect positive amounts` };
  }
  if (cents === 0) return { ok: false, code: 'AMOUNT_NOT_POSITIVE', message: `"${raw}" is zero` };
  if (cents > MAX_AMOUNT_CENTS) {
    return { ok: false, code: 'AMOUNT_TOO_LARGE', message: `"${raw}" is above ${formatCents(MAX_AMOUNT_CENTS)}` };
  }
  return { ok: true, cents };
}

/**
 * `decimal` rounded to `places` decimals, half away from zero, digit by digit
 * (for messages that say what a sheet shows): `19.999`, 2 → `20.00`.
 */
export function roundDecimal(decimal: string, places: number): string {
  const negative = decimal.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? decimal.slice(1) : decimal).split('.');
  const kept = fraction.padEnd(places, '0').slice(0, places);
  let digits = whole + kept;
  if ((fraction[places] ?? '0') >= '5') {
    const out = digits.split('');
    let i = out.length - 1;
    for (; i >= 0; i--) {
      if (out[i] === '9') out[i] = '0';
      else {
        out[i] = String(Number(out[i]) + 1);
        break;
      }
    }
    digits = (i < 0 ? '1' : '') + out.join('');
  }
  const cut = digits.length - places;
  const text = places === 0 ? digits : `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  return negative ? `-${text}` : text;
}

/** Formats integer cents as a plain decimal string with two decimals: `123456` → `"1234.56"`. */
export function formatCents(cents: number): string {
  if (!Number.isSafeInteger(cents)) throw new RangeError(`not a whole number of cents: ${cents}`);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100);
  const rest = abs % 100;
  return `${sign}${whole}.${rest < 10 ? '0' : ''}${rest}`;
}

/**
 * The amount as Paywint wants it in JSON: a number literal written from the
 * decimal string, so no float rounding stands between the file and the wire
 * (`15075` → `150.75`, `1500` → `15`).
 */
export function centsToJsonNumber(cents: number): string {
  const text = formatCents(cents);
  return text.replace(/\.00$/, '').replace(/(\.\d)0$/, '$1');
}

/**
 * The cents of an amount written plainly, `1234.56`, `75.5` or `80` (as
 * almost every row of an export is), without the regular expressions of
 * {@link parseAmount}; -1 for anything else, including zero and amounts of
 * more than 10 digits, which then go through `parseAmount` for its code and
 * message. test/intake-amount.test.ts checks both agree.
 */
export function plainAmountCents(text: string): number {
  const length = text.length;
  let whole = 0;
  let i = 0;
  for (; i < length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    whole = whole * 10 + digit;
  }
  if (i === 0 || i > 10) return -1;
  let cents = whole * 100;
  if (i < length) {
    if (text.charCodeAt(i) !== 46 /* . */ || length - i - 1 < 1 || length - i - 1 > 2) return -1;
    const d1 = text.charCodeAt(i + 1) - 48;
    const d2 = length - i - 1 === 2 ? text.charCodeAt(i + 2) - 48 : 0;
    if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return -1;
    cents += d1 * 10 + d2;
  }
  return cents > 0 && cents <= MAX_AMOUNT_CENTS ? cents : -1;
}

/**
 * A number as the shortest decimal string that reads back as the same double
 * (JavaScript's own rule), written out in full, never in exponent form:
 * `89.99` (never `89.98999999999999`), `123`, `0.0000001`, `1e+21` → `1000000000000000000000`.
 */
export function numberToDecimal(value: number): string {
  const text = String(value);
  const e = text.indexOf('e');
  if (e === -1) return text;
  const negative = text.startsWith('-');
  const mantissa = text.slice(negative ? 1 : 0, e);
  const exponent = Number(text.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const point = (dot === -1 ? mantissa.length : dot) + exponent;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${out}` : out;
}
