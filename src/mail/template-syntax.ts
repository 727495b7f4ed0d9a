/**
 * The placeholder syntax of the customer e-mails (issue 19, item 4): a small,
 * logic-less subset of Mustache, so a finance team can edit a template in any
 * text editor and a template can never run code.
 *
 * - `{{invoice_number}}`: the value (escaped for HTML in an HTML body).
 * - `{{#due_date}}…{{/due_date}}`: the enclosed text only when the value is
 *   there; `{{^name}}…{{/name}}`: only when it is not. A section tag alone on
 *   its line takes the line with it, as in Mustache.
 *
 * A template is checked when it is compiled, at start: an unknown placeholder,
 * an unclosed `{{` or an unbalanced section is a {@link ConfigError} naming the
 * file, the line and the placeholder.
 */
import { ConfigError } from '../core/errors.js';
import { quoteValue } from '../core/quote.js';

/** The placeholders a template may use, as written between the braces. */
export const PLACEHOLDERS = ['name', 'invoice_number', 'amount', 'description', 'link', 'due_date'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** Placeholder and section tags in one template at most; more is a mistake (or a way to make a huge message from a small file). */
export const MAX_TAGS_PER_TEMPLATE = 200;

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'value'; field: Placeholder }
  | { kind: 'section'; field: Placeholder; inverted: boolean; body: Node[] };

/** A checked template, ready to render. */
export interface CompiledTemplate {
  /** Where it came from, for messages: a file path, or `built-in first.txt`. */
  readonly source: string;
  readonly nodes: readonly Node[];
  /** The placeholders it uses (sections included). */
  readonly uses: ReadonlySet<Placeholder>;
}

type Token =
  | { kind: 'text'; text: string }
  | { kind: 'tag'; sigil: '' | '#' | '^' | '/'; field: Placeholder; line: number; raw: string };

const TAG = /\{\{\s*([#^/]?)\s*([^{}]*?)\s*\}\}/y;
const KNOWN: ReadonlySet<string> = new Set(PLACEHOLDERS);

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line += 1;
  return line;
}

function refuse(variable: string, source: string, line: number, what: string): never {
  throw new ConfigError('CONFIG_INVALID', variable, `${variable}: ${source}, line ${line}: ${what}`);
}

function tokenize(text: string, source: string, variable: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  let tags = 0;
  while (at < text.length) {
    const open = text.indexOf('{{', at);
    if (open === -1) {
      tokens.push({ kind: 'text', text: text.slice(at) });
      break;
    }
    if (open > at) tokens.push({ kind: 'text', text: text.slice(at, open) });
    TAG.lastIndex = open;
    const match = TAG.exec(text);
    const line = lineAt(text, open);
    if (!match) refuse(variable, source, line, `"{{" without its closing "}}" (near ${quoteValue(text.slice(open, open + 30))})`);
    const [raw, sigil, name] = match as unknown as [string, '' | '#' | '^' | '/', string];
    if (!KNOWN.has(name)) {
      refuse(variable, source, line, `unknown placeholder {{${name.slice(0, 40)}}}; the placeholders are ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`);
    }
    tags += 1;
    if (tags > MAX_TAGS_PER_TEMPLATE) refuse(variable, source, line, `more than ${MAX_TAGS_PER_TEMPLATE} placeholders`);
    tokens.push({ kind: 'tag', sigil, field: name as Placeholder, line, raw });
    at = open + raw.length;
  }
  return standalone(tokens);
}

/**
 * A section tag alone on its line (only blanks around it) removes that line,
 * newline included, so `{{#due_date}}` on a line of its own leaves no blank line.
 */
function standalone(tokens: Token[]): Token[] {
  // Decided on the texts as written, then cut: two section lines in a row both go.
  const headCut = new Map<number, number>();
  const tailCut = new Map<number, number>();
  const textOf = (j: number): string | null => {
    const t = tokens[j];
    if (t === undefined) return '';
    return t.kind === 'text' ? t.text : null;
  };
  tokens.forEach((token, i) => {
    if (token.kind !== 'tag' || token.sigil === '') return;
    const beforeText = textOf(i - 1);
    const afterText = textOf(i + 1);
    if (beforeText === null || afterText === null) return;
    const lead = /(^|\n)[ \t]*$/.exec(beforeText);
    // Blanks only back to a newline, or to the start of the template (not to another tag).
    if (lead === null || (lead[1] === '' && i > 1)) return;
    const trail = /^[ \t]*(\r?\n|$)/.exec(afterText);
    if (trail === null || (trail[1] === '' && i + 2 < tokens.length)) return;
    tailCut.set(i - 1, lead[0].length - lead[1]!.length);
    headCut.set(i + 1, trail[0].length);
  });
  return tokens.map((token, j) => {
    if (token.kind !== 'text' || (!headCut.has(j) && !tailCut.has(j))) return token;
    return { kind: 'text', text: token.text.slice(headCut.get(j) ?? 0, token.text.length - (tailCut.get(j) ?? 0)) };
  });
}

/** Compiles a template's text. `variable` is the setting named in messages (`PAYLINKS_TEMPLATES`). */
export function compileTemplate(text: string, source: string, variable: string): CompiledTemplate {
  const tokens = tokenize(text, source, variable);
  const uses = new Set<Placeholder>();
  const root: Node[] = [];
  const stack: { field: Placeholder; line: number; body: Node[] }[] = [];
  let current = root;
  for (const token of tokens) {
    if (token.kind === 'text') {
      if (token.text !== '') current.push({ kind: 'text', text: token.text });
      continue;
    }
    uses.add(token.field);
    if (token.sigil === '') current.push({ kind: 'value', field: token.field });
    else if (token.sigil === '/') {
      const open = stack.pop();
      if (open === undefined || open.field !== token.field) {
        refuse(variable, source, token.line, open === undefined ? `${token.raw} closes no section` : `${token.raw} closes {{#${open.field}}} of line ${open.line}; close that one first`);
      }
      current = stack.length > 0 ? stack[stack.length - 1]!.body : root;
    } else {
      const body: Node[] = [];
      current.push({ kind: 'section', field: token.field, inverted: token.sigil === '^', body });
      stack.push({ field: token.field, line: token.line, body });
      current = body;
    }
  }
  const unclosed = stack.pop();
  if (unclosed !== undefined) refuse(variable, source, unclosed.line, `{{#${unclosed.field}}} is never closed with {{/${unclosed.field}}}`);
  return { source, nodes: root, uses };
}

/** Renders a compiled template; `value` gives each placeholder's text, already made safe for the context, '' when absent. */
export function renderTemplate(template: CompiledTemplate, value: (field: Placeholder) => string): string {
  const out: string[] = [];
  const walk = (nodes: readonly Node[]): void => {
    for (const node of nodes) {
      if (node.kind === 'text') out.push(node.text);
      else if (node.kind === 'value') out.push(value(node.field));
      else if ((value(node.field) !== '') !== node.inverted) walk(node.body);
    }
  };
  walk(template.nodes);
  return out.join('');
}
