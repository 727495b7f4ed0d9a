/** The customer e-mails' templates (issue 19, item 4): defaults, overrides from a folder, escaping, and what is refused at start. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { headerValue, loadTemplates, MESSAGE_KINDS, renderMessage, type MessageFields } from '../../src/mail/templates.js';

const FIELDS: MessageFields = {
  name: 'Jane Doe',
  invoiceNumber: 'INV-1001',
  amount: '1234.5',
  description: 'Consulting, May 2026',
  link: 'https://pay.paywint.com/l/7f3a?ref=inv&src=mail',
  dueDate: '2026-12-31',
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-templates-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the built-in templates', () => {
  it('give every kind the invoice, the amount in dollars, the written-out due date, the description, the link, in subject, text and HTML', () => {
    const t = loadTemplates();
    const subjects = new Set<string>();
    for (const kind of MESSAGE_KINDS) {
      const m = renderMessage(t, kind, FIELDS);
      subjects.add(m.subject);
      expect(m.subject).toContain('INV-1001');
      expect(m.subject).toContain('$1,234.50');
      for (const body of [m.text, m.html]) {
        expect(body).toContain('Dear Jane Doe,');
        expect(body).toContain('$1,234.50');
        expect(body).toContain('December 31, 2026');
        expect(body).toContain('Consulting, May 2026');
        expect(body).not.toMatch(/\{\{|\}\}/);
      }
      expect(m.text).toContain(`\n${FIELDS.link}\n`);
      expect(m.html).toContain('href="https://pay.paywint.com/l/7f3a?ref=inv&amp;src=mail"');
      expect(m.html).toMatch(/^<!DOCTYPE html>/);
      // Reminders say what to do if the invoice is already paid; the first e-mail has nothing to be paid yet.
      expect(m.text.includes('already paid')).toBe(kind !== 'first');
    }
    expect(subjects.size).toBe(4);
    expect(renderMessage(t, 'first', FIELDS).subject).toBe('Invoice INV-1001: $1,234.50 due December 31, 2026');
    expect(renderMessage(t, 'reminder3', FIELDS).subject).toBe('Final reminder: invoice INV-1001 ($1,234.50) is unpaid');
  });

  it('read well without a name, a description or a due date: no empty lines or dangling words', () => {
    const m = renderMessage(loadTemplates(), 'first', { ...FIELDS, name: null, description: null, dueDate: null });
    expect(m.subject).toBe('Invoice INV-1001: $1,234.50');
    expect(m.text).toMatch(/^Hello,\n\nThank you for your business\. Your invoice INV-1001 for \$1,234\.50 is ready\. /);
    expect(m.text).toContain('  Invoice:   INV-1001\n  Amount:    $1,234.50\n\nPay securely online');
    expect(m.text).not.toContain('Due date');
    expect(m.html).not.toContain('Due date');
    expect(m.html).not.toContain('>For<');
    // A name of blanks is no name.
    expect(renderMessage(loadTemplates(), 'first', { ...FIELDS, name: '  ' }).text).toMatch(/^Hello,/);
  });
});

describe('values from the file', () => {
  const hostile: MessageFields = {
    ...FIELDS,
    name: 'Mallory <script>alert("x")</script>\r\nBcc: victim@example.com',
    description: `Tom & Jerry's "special" <b>deal</b>`,
  };

  it('are escaped in the HTML body and kept as written in the text body', () => {
    const m = renderMessage(loadTemplates(), 'first', hostile);
    expect(m.html).not.toContain('<script>');
    expect(m.html).not.toContain('<b>deal');
    expect(m.html).toContain('Mallory &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Bcc: victim@example.com');
    expect(m.html).toContain('Tom &amp; Jerry&#39;s &quot;special&quot; &lt;b&gt;deal&lt;/b&gt;');
    expect(m.text).toContain(`For:       Tom & Jerry's "special" <b>deal</b>`);
  });

  it('cannot break the subject: a name with CR/LF becomes one line', async () => {
    await writeFile(path.join(dir, 'first.subject.txt'), 'Invoice {{invoice_number}} for {{name}}\n');
    const m = renderMessage(loadTemplates(dir), 'first', hostile);
    expect(m.subject).toBe('Invoice INV-1001 for Mallory <script>alert("x")</script> Bcc: victim@example.com');
    expect(m.subject).not.toMatch(/[\r\n]/);
    for (const sep of ['\r', '\n', '\u0085', '\u2028', '\u2029', '\u0000', '\u202e']) {
      expect(headerValue(`a${sep}b`)).toBe('a b');
    }
  });

  it('make a subject of at most 200 characters', async () => {
    await writeFile(path.join(dir, 'first.subject.txt'), '{{description}}');
    const m = renderMessage(loadTemplates(dir), 'first', { ...FIELDS, description: 'x'.repeat(300) });
    expect(m.subject).toHaveLength(200);
    expect(m.subject.endsWith('…')).toBe(true);
  });

  it('a link that is not an http(s) URL is not rendered', () => {
    expect(() => renderMessage(loadTemplates(), 'first', { ...FIELDS, link: 'javascript:alert(1)' })).toThrow(/not an http\(s\) URL/);
    expect(() => renderMessage(loadTemplates(), 'first', { ...FIELDS, link: 'https://pay.paywint.com/"onclick="x' })).toThrow(/not an http\(s\) URL/);
  });
});

describe('a template folder (PAYLINKS_TEMPLATES)', () => {
  it('overrides per file; reminder.* serves every reminder without its own file', async () => {
    await writeFile(path.join(dir, 'first.txt'), 'Hi {{name}}, pay {{amount}} at {{link}}\n');
    await writeFile(path.join(dir, 'reminder.subject.txt'), 'Still open: {{invoice_number}}');
    await writeFile(path.join(dir, 'reminder2.subject.txt'), '\uFEFFSecond notice: {{invoice_number}}\r\n');
    await writeFile(path.join(dir, 'README.md'), 'notes for the team');
    await writeFile(path.join(dir, '.first.txt.swp'), 'editor swap file');
    const t = loadTemplates(dir);
    const first = renderMessage(t, 'first', FIELDS);
    expect(first.text).toBe(`Hi Jane Doe, pay $1,234.50 at ${FIELDS.link}\n`);
    expect(first.subject).toBe('Invoice INV-1001: $1,234.50 due December 31, 2026'); // built in
    expect(first.html).toContain('Dear Jane Doe,'); // built in
    expect(renderMessage(t, 'reminder1', FIELDS).subject).toBe('Still open: INV-1001');
    expect(renderMessage(t, 'reminder2', FIELDS).subject).toBe('Second notice: INV-1001');
    expect(renderMessage(t, 'reminder3', FIELDS).subject).toBe('Still open: INV-1001');
    expect(t.kinds.reminder3.subject.source).toBe(path.join(dir, 'reminder.subject.txt'));
    expect(t.kinds.reminder3.text.source).toBe('built-in reminder3.txt');
  });

  it('sections show their text only with a value ({{#…}}) or without one ({{^…}}); a section tag alone on its line leaves no blank line', async () => {
    await writeFile(path.join(dir, 'first.txt'), 'Hello{{#name}} {{name}}{{/name}}{{^name}} there{{/name}},\n{{#due_date}}\nDue: {{due_date}}\n{{/due_date}}\n{{link}}\n');
    const t = loadTemplates(dir);
    expect(renderMessage(t, 'first', FIELDS).text).toBe(`Hello Jane Doe,\nDue: December 31, 2026\n${FIELDS.link}\n`);
    expect(renderMessage(t, 'first', { ...FIELDS, name: null, dueDate: null }).text).toBe(`Hello there,\n${FIELDS.link}\n`);
  });

  it('refuses an unknown placeholder at start, naming it, the file and the line', async () => {
    const file = path.join(dir, 'reminder1.html');
    await writeFile(file, '<p>{{link}}</p>\n<p>Pay {{ amount_due }}</p>\n');
    const error = configError(() => loadTemplates(dir));
    expect(error.variable).toBe('PAYLINKS_TEMPLATES');
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`${file}, line 2: unknown placeholder {{amount_due}}`);
    expect(error.message).toContain('{{invoice_number}}');
  });

  it('refuses a broken template: an unclosed "{{", a section never closed or closed out of order', async () => {
    const cases: [string, RegExp][] = [
      ['Pay {{amount at {{link}}', /line 1: "\{\{" without its closing "\}\}"/],
      ['{{link}}\n{{#due_date}}Due {{due_date}}', /line 2: \{\{#due_date\}\} is never closed/],
      ['{{link}}{{#name}}{{#due_date}}x{{/name}}{{/due_date}}', /\{\{\/name\}\} closes \{\{#due_date\}\}/],
      ['{{link}}{{/name}}', /\{\{\/name\}\} closes no section/],
    ];
    for (const [text, message] of cases) {
      await writeFile(path.join(dir, 'first.txt'), text);
      expect(configError(() => loadTemplates(dir)).message).toMatch(message);
    }
  });

  it('refuses a body without {{link}}, a subject of two lines or with the link, an empty subject', async () => {
    await writeFile(path.join(dir, 'reminder.html'), '<p>Please pay {{amount}}.</p>');
    expect(configError(() => loadTemplates(dir)).message).toBe(`PAYLINKS_TEMPLATES: ${path.join(dir, 'reminder.html')} does not use {{link}}: the customer would get no way to pay`);
    await rm(path.join(dir, 'reminder.html'));
    for (const [text, message] of [['Invoice\nBcc: x@example.com', /one line/], ['Pay at {{link}}', /belongs in the body/], ['\n', /is empty/]] as const) {
      await writeFile(path.join(dir, 'first.subject.txt'), text);
      expect(configError(() => loadTemplates(dir)).message).toMatch(message);
    }
  });

  it('refuses a file name that is no template (a typo), a file too large, too many placeholders, a missing folder', async () => {
    await writeFile(path.join(dir, 'frist.txt'), '{{link}}');
    expect(configError(() => loadTemplates(dir)).message).toMatch(/frist\.txt: not a template name; the names are first\.subject\.txt, first\.txt, first\.html, /);
    await rm(path.join(dir, 'frist.txt'));

    await writeFile(path.join(dir, 'first.txt'), `{{link}}\n${'x'.repeat(64 * 1024)}`);
    expect(configError(() => loadTemplates(dir)).message).toMatch(/first\.txt is 65,545 bytes; a text template may be at most 65,536/);

    await writeFile(path.join(dir, 'first.txt'), `{{link}}${'{{amount}}'.repeat(200)}`);
    expect(configError(() => loadTemplates(dir)).message).toMatch(/more than 200 placeholders/);
    await rm(path.join(dir, 'first.txt'));

    await mkdir(path.join(dir, 'first.html'));
    expect(configError(() => loadTemplates(dir)).message).toMatch(/first\.html is not a regular file/);

    const missing = path.join(dir, 'nope');
    expect(configError(() => loadTemplates(missing)).message).toBe(`PAYLINKS_TEMPLATES: cannot read the folder ${missing} (ENOENT)`);
  });

  it('refuses a file that is not UTF-8', async () => {
    await writeFile(path.join(dir, 'first.txt'), Buffer.from([0x7b, 0x7b, 0x6c, 0x69, 0x6e, 0x6b, 0x7d, 0x7d, 0x20, 0xe9, 0x74, 0xe9]));
    expect(configError(() => loadTemplates(dir)).message).toMatch(/first\.txt is not UTF-8 text/);
  });
});
