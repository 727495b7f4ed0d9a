/**
 * Currencies: Paywint charges US dollars only, so an amount in any other
 * currency is refused, never converted and never sent as dollars.
 *
 * Two places say a row's currency: a currency column (`currency`, `ccy`,
 * `Currency Code`; see COLUMN_ALIASES in columns.ts) and a sign written with
 * the amount (`€100`, `100 EUR`, `CHF 12.50`). Both are read here, so both
 * name the currency the same way in their messages.
 */

/** What a currency cell or sign may say for US dollars (compared upper case, spaces and dots removed). */
const US_DOLLARS = new Set(['USD', 'US$', '$', 'USDOLLAR', 'USDOLLARS', 'DOLLARUS', 'UNITEDSTATESDOLLAR', 'UNITEDSTATESDOLLARS']);

/** Currency signs other than the dollar's, with the code they stand for. Longest first where one contains another. */
const SIGNS: readonly (readonly [string, string])[] = [
  ['€', 'EUR'],
  ['£', 'GBP'],
  ['¥', 'JPY or CNY'],
  ['₹', 'INR'],
  ['₩', 'KRW'],
  ['₽', 'RUB'],
  ['₺', 'TRY'],
  ['₪', 'ILS'],
  ['₫', 'VND'],
  ['₱', 'PHP'],
  ['₦', 'NGN'],
  ['₴', 'UAH'],
  ['฿', 'THB'],
  ['₿', 'BTC'],
  ['zł', 'PLN'],
  ['R$', 'BRL'],
  ['NZ$', 'NZD'],
  ['HK$', 'HKD'],
  ['MX$', 'MXN'],
  ['CA$', 'CAD'],
  ['AU$', 'AUD'],
  ['C$', 'CAD'],
  ['A$', 'AUD'],
  ['S$', 'SGD'],
];

/**
 * ISO 4217 codes a finance export writes beside an amount. Not every code:
 * the ones seen in exports, enough to say which currency a refused amount is in.
 */
const CODES = new Set(
  'EUR GBP CAD AUD NZD JPY CNY RMB CHF SEK NOK DKK PLN CZK HUF RON BGN HRK ISK TRY RUB UAH INR PKR BDT LKR IDR MYR SGD HKD TWD KRW THB VND PHP MXN BRL ARS CLP COP PEN ZAR NGN KES EGP MAD AED SAR QAR KWD BHD OMR ILS JOD'.split(' '),
);

/** Words for currencies that are not codes: `12 kr`, `Fr. 12.50`. */
const WORDS: Readonly<Record<string, string>> = { KR: 'SEK, NOK or DKK (kr)', FR: 'CHF (Fr.)', SFR: 'CHF (SFr.)', KČ: 'CZK (Kč)', LEI: 'RON (lei)' };

/** The currency a sign, code or word in an amount's text names, other than US dollars; undefined when it names none (or dollars). */
export function foreignCurrencyIn(text: string): string | undefined {
  // A prefixed dollar (C$, NZ$) before `$`, which alone reads as US dollars.
  const rest = text.replace(/US\$/gi, ' ');
  for (const [sign, code] of SIGNS) if (rest.includes(sign)) return `${code} (${sign})`;
  for (const [word] of rest.matchAll(/\p{L}+/gu)) {
    const upper = word.toUpperCase();
    if (CODES.has(upper)) return upper;
    const named = WORDS[upper];
    if (named !== undefined) return named;
  }
  return undefined;
}

/**
 * What a currency cell says, as a currency: undefined for US dollars or an
 * empty cell (the amount is then taken as dollars, as without the column);
 * otherwise the currency as written, for the row's message.
 */
export function nonUsdCurrency(cell: string): string | undefined {
  const text = cell.trim();
  if (text === '') return undefined;
  const key = text.toUpperCase().replace(/[\s.]+/g, '');
  if (US_DOLLARS.has(key)) return undefined;
  return text;
}
