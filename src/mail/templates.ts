/**
 * What each customer e-mail says (issue 19, item 4): a subject, a plain-text
 * body and an HTML body for each kind of message (the first e-mail with the
 * link, and reminders 1 to 3), from built-in defaults (default-templates.ts)
 * or from files in a folder (`PAYLINKS_TEMPLATES`), one file per part:
 *
 *   first.subject.txt   first.txt   first.html
 *   reminder1.subject.txt … reminder3.html
 *   reminder.subject.txt reminder.txt reminder.html   (every reminder without its own file)
 *
 * A file overrides only its part; the rest stay built in. Everything is read
 * and checked once, at start (`loadTemplates`): an unknown placeholder, a
 * body without `{{link}}`, a subject on two lines, a file too large, a name
 * that is no template's (a typo) are a {@link ConfigError} naming the file.
 *
 * Values from the invoice file are strangers' input: escaped in the HTML
 * body, and in the subject (and any header, {@link headerValue}) every line
 * break and control character becomes a space, so no value can add a header.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, PaylinksError } from '../core/errors.js';
import { quoteValue } from '../core/quote.js';
import { DEFAULT_TEMPLATES } from './default-templates.js';
import { compileTemplate, renderTemplate, type CompiledTemplate, type Placeholder } from './template-syntax.js';

export { PLACEHOLDERS, type Placeholder } from './template-syntax.js';

export const MESSAGE_KINDS = ['first', 'reminder1', 'reminder2', 'reminder3'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** The values of one invoice's message. Amount as a decimal string (`1234.50`); due date as `YYYY-MM-DD`. */
export interface MessageFields {
  name: string | null;
  invoiceNumber: string;
  amount: string;
  description: string | null;
  link: string;
  dueDate: string | null;
}

export interface RenderedMessage {
  subject: string;
  text: string;
  html: string;
}

export type TemplatePart = 'subject' | 'text' | 'html';

/** The checked templates of every kind of message. */
export interface Templates {
  /** The folder read, or undefined for the built-in templates only. */
  readonly dir: string | undefined;
  readonly kinds: Readonly<Record<MessageKind, Readonly<Record<TemplatePart, CompiledTemplate>>>>;
}

/** The setting named in messages about templates. */
export const TEMPLATES_VARIABLE = 'PAYLINKS_TEMPLATES';

/** The largest template file read, per part, in bytes. */
export const MAX_TEMPLATE_BYTES: Readonly<Record<TemplatePart, number>> = { subject: 1000, text: 64 * 1024, html: 256 * 1024 };

/** A rendered subject is cut to this many characters (with `…`): mail clients show far less anyway. */
export const MAX_SUBJECT_CHARS = 200;

const SUFFIX: Readonly<Record<TemplatePart, string>> = { subject: '.subject.txt', text: '.txt', html: '.html' };
const PARTS: readonly TemplatePart[] = ['subject', 'text', 'html'];

/** The file names a template folder may hold, in the order the docs list them. */
export function templateFileNames(): string[] {
  return [...MESSAGE_KINDS, 'reminder'].flatMap((kind) => PARTS.map((part) => `${kind}${SUFFIX[part]}`));
}

function refuse(message: string): never {
  throw new ConfigError('CONFIG_INVALID', TEMPLATES_VARIABLE, `${TEMPLATES_VARIABLE}: ${message}`);
}

function readTemplateFile(file: string, part: TemplatePart): string {
  let size: number;
  try {
    const stats = statSync(file);
    if (!stats.isFile()) refuse(`${file} is not a regular file`);
    size = stats.size;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    refuse(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (size > MAX_TEMPLATE_BYTES[part]) refuse(`${file} is ${size.toLocaleString('en-US')} bytes; a ${part} template may be at most ${MAX_TEMPLATE_BYTES[part].toLocaleString('en-US')}`);
  const bytes = readFileSync(file);
  if (bytes.length > MAX_TEMPLATE_BYTES[part]) refuse(`${file} grew past ${MAX_TEMPLATE_BYTES[part].toLocaleString('en-US')} bytes while it was read`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    refuse(`${file} is not UTF-8 text`);
  }
  return text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

/** The template files in `dir`, by name; a name that is no template's is refused (a typo would otherwise be silently ignored). */
function listFolder(dir: string): Map<string, string> {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) refuse(`${dir} is not a folder`);
    names = readdirSync(dir);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    refuse(`cannot read the folder ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const known = new Set(templateFileNames());
  const files = new Map<string, string>();
  for (const name of names) {
    if (known.has(name)) files.set(name, path.join(dir, name));
    else if (/\.(txt|html?)$/i.test(name) && !name.startsWith('.')) {
      refuse(`${path.join(dir, name)}: not a template name; the names are ${templateFileNames().join(', ')}`);
    }
  }
  return files;
}

function checkPart(template: CompiledTemplate, part: TemplatePart, textOf: string): void {
  if (part === 'subject') {
    if (textOf.trim() === '') refuse(`${template.source} is empty: a message needs a subject`);
    if (textOf.trim().includes('\n')) refuse(`${template.source} has more than one line: a subject is one line`);
    if (template.uses.has('link')) refuse(`${template.source} uses {{link}}: the link belongs in the body, not the subject`);
  } else if (!template.uses.has('link')) {
    refuse(`${template.source} does not use {{link}}: the customer would get no way to pay`);
  }
}

/**
 * Reads and checks the templates: the built-in ones, overridden per file by
 * those in `dir` (`PAYLINKS_TEMPLATES`). Throws {@link ConfigError} naming the file at fault.
 */
export function loadTemplates(dir?: string): Templates {
  const files = dir === undefined ? new Map<string, string>() : listFolder(dir);
  const kinds = {} as Record<MessageKind, Record<TemplatePart, CompiledTemplate>>;
  for (const kind of MESSAGE_KINDS) {
    const parts = {} as Record<TemplatePart, CompiledTemplate>;
    for (const part of PARTS) {
      const file = files.get(`${kind}${SUFFIX[part]}`) ?? (kind === 'first' ? undefined : files.get(`reminder${SUFFIX[part]}`));
      const text = file === undefined ? DEFAULT_TEMPLATES[kind][part] : readTemplateFile(file, part);
      const template = compileTemplate(text, file ?? `built-in ${kind}${SUFFIX[part]}`, TEMPLATES_VARIABLE);
      checkPart(template, part, text);
      parts[part] = template;
    }
    kinds[kind] = parts;
  }
  return { dir, kinds };
}

// Line breaks of every kind, other control characters, and the bidirectional
// overrides that make a name display as something else.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const CONTROLS_BUT_LINES = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;

/**
 * A value made safe for a mail header (a subject, a display name): every
 * line break and control character a space, runs of spaces one, trimmed,
 * at most `maxChars` characters. A value with CR/LF cannot start a new header.
 */
export function headerValue(value: string, maxChars = MAX_SUBJECT_CHARS): string {
  const flat = value.replace(CONTROLS, ' ').replace(/\s+/g, ' ').trim();
  if (flat.length <= maxChars) return flat;
  const end = /[\uD800-\uDBFF]/.test(flat[maxChars - 2] ?? '') ? maxChars - 2 : maxChars - 1;
  return `${flat.slice(0, end).trimEnd()}…`;
}

/** Text for a body: line breaks kept (as `\n`), other control characters dropped. */
function bodyText(value: string): string {
  return value.replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n').replace(CONTROLS_BUT_LINES, '');
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** `1234.5` → `$1,234.50` (Paywint charges US dollars only); anything else as it is. */
export function displayAmount(amount: string): string {
  const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(amount.trim());
  if (!match) return amount;
  const whole = match[1]!.replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `$${whole}.${(match[2] ?? '').padEnd(2, '0')}`;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** `2026-12-31` → `December 31, 2026` (written out: `12/31` and `31/12` each mislead half the world); anything else as it is. */
export function displayDate(date: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.trim());
  const month = match ? MONTHS[Number(match[2]) - 1] : undefined;
  if (!match || month === undefined || Number(match[3]) < 1 || Number(match[3]) > 31) return date;
  return `${month} ${Number(match[3])}, ${match[1]}`;
}

function fieldText(fields: MessageFields, field: Placeholder): string {
  switch (field) {
    case 'name':
      return fields.name === null ? '' : headerValue(fields.name, 1000);
    case 'invoice_number':
      return fields.invoiceNumber;
    case 'amount':
      return displayAmount(fields.amount);
    case 'description':
      return fields.description?.trim() ?? '';
    case 'link':
      return fields.link;
    case 'due_date':
      return fields.dueDate === null ? '' : displayDate(fields.dueDate);
  }
}

/**
 * The message of one kind for one invoice. Values are escaped for HTML in
 * `html`; `subject` is one line without control characters. The link must be
 * an http(s) URL (paylinks only ever sends the link it recorded).
 */
export function renderMessage(t: Templates, kind: MessageKind, fields: MessageFields): RenderedMessage {
  if (!/^https?:\/\/[^\s<>"']+$/i.test(fields.link)) {
    throw new PaylinksError('INTERNAL', `the link of invoice ${quoteValue(fields.invoiceNumber)} is not an http(s) URL: not rendered`);
  }
  const values = new Map<Placeholder, string>();
  const value = (field: Placeholder): string => {
    let v = values.get(field);
    if (v === undefined) values.set(field, (v = fieldText(fields, field).trim() === '' ? '' : fieldText(fields, field)));
    return v;
  };
  const parts = t.kinds[kind];
  return {
    subject: headerValue(renderTemplate(parts.subject, (f) => headerValue(value(f), 1000))),
    text: renderTemplate(parts.text, (f) => bodyText(value(f))),
    html: renderTemplate(parts.html, (f) => escapeHtml(bodyText(value(f)))),
  };
}
