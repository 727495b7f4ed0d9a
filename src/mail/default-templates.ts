/**
 * The messages paylinks sends when no template folder overrides them: the
 * first e-mail with the link, and three reminders, each firmer than the last
 * but never rude. Written to be sent as they are: who the message is for,
 * the invoice, the amount and due date at a glance, the link, and what to do
 * if the invoice is already paid or looks wrong.
 *
 * They use the same syntax as a template file (template-syntax.ts) and are
 * compiled by the same code, so a test of the defaults tests the syntax too.
 */
import type { MessageKind } from './templates.js';

/** One kind of message: its subject line, plain-text body and HTML body. */
export interface TemplateTexts {
  subject: string;
  text: string;
  html: string;
}

const GREETING = '{{#name}}Dear {{name}},{{/name}}{{^name}}Hello,{{/name}}';

const DETAILS_TEXT = `  Invoice:   {{invoice_number}}
  Amount:    {{amount}}
{{#due_date}}
  Due date:  {{due_date}}
{{/due_date}}
{{#description}}
  For:       {{description}}
{{/description}}`;

const SIGN_OFF_TEXT = `Kind regards,
Accounts receivable`;

function text(intro: string, after: string): string {
  return `${GREETING}

${intro}

${DETAILS_TEXT}

Pay securely online with this link:
{{link}}

${after}

${SIGN_OFF_TEXT}
`;
}

const CELL = 'padding:4px 16px 4px 0;color:#555;';

function html(intro: string, after: string, button: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Invoice {{invoice_number}}</title>
</head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#1f2328;">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border:1px solid #dde1e6;border-radius:6px;padding:28px;">
<p style="margin:0 0 16px;">${GREETING}</p>
<p style="margin:0 0 16px;">${intro}</p>
<table role="presentation" style="border-collapse:collapse;margin:0 0 20px;">
<tr><td style="${CELL}">Invoice</td><td style="padding:4px 0;"><strong>{{invoice_number}}</strong></td></tr>
<tr><td style="${CELL}">Amount</td><td style="padding:4px 0;"><strong>{{amount}}</strong></td></tr>
{{#due_date}}
<tr><td style="${CELL}">Due date</td><td style="padding:4px 0;"><strong>{{due_date}}</strong></td></tr>
{{/due_date}}
{{#description}}
<tr><td style="${CELL}">For</td><td style="padding:4px 0;">{{description}}</td></tr>
{{/description}}
</table>
<p style="margin:0 0 20px;"><a href="{{link}}" style="display:inline-block;background:#0b5cad;color:#ffffff;text-decoration:none;font-weight:bold;padding:12px 22px;border-radius:4px;">${button}</a></p>
<p style="margin:0 0 16px;font-size:13px;color:#555;">If the button does not work, copy this link into your browser:<br><a href="{{link}}" style="color:#0b5cad;word-break:break-all;">{{link}}</a></p>
<p style="margin:0 0 16px;">${after}</p>
<p style="margin:0;">Kind regards,<br>Accounts receivable</p>
</div>
</body>
</html>
`;
}

const ALREADY_PAID = 'If you have already paid, thank you, and please disregard this message: payments can take a few days to reach us.';
const QUESTIONS = 'If anything on this invoice looks wrong, just reply to this e-mail and we will sort it out.';

const INTRO = {
  first: 'Thank you for your business. Your invoice {{invoice_number}} for {{amount}} is ready{{#due_date}}, payable by {{due_date}}{{/due_date}}. You can pay it online with the link below.',
  reminder1: 'This is a friendly reminder that invoice {{invoice_number}} for {{amount}} is still open in our records{{#due_date}} (due date {{due_date}}){{/due_date}}.',
  reminder2: 'We have not yet received payment for invoice {{invoice_number}} for {{amount}}{{#due_date}} (due date {{due_date}}){{/due_date}}. We would be grateful if you could settle it at your earliest convenience.',
  reminder3: 'Despite our earlier reminders, invoice {{invoice_number}} for {{amount}} remains unpaid{{#due_date}} (due date {{due_date}}){{/due_date}}. Please pay it now, or reply to let us know when we can expect payment. This is our final reminder.',
} as const satisfies Record<MessageKind, string>;

const AFTER = {
  first: QUESTIONS,
  reminder1: `${ALREADY_PAID} ${QUESTIONS}`,
  reminder2: `${ALREADY_PAID} If there is a problem with the invoice or you need more time, please reply and tell us.`,
  reminder3: `${ALREADY_PAID} If you are unable to pay the full amount, please reply so we can agree on a way forward.`,
} as const satisfies Record<MessageKind, string>;

const SUBJECT = {
  first: 'Invoice {{invoice_number}}: {{amount}}{{#due_date}} due {{due_date}}{{/due_date}}',
  reminder1: 'Reminder: invoice {{invoice_number}} ({{amount}}){{#due_date}} due {{due_date}}{{/due_date}}',
  reminder2: 'Second reminder: invoice {{invoice_number}} ({{amount}}) is unpaid',
  reminder3: 'Final reminder: invoice {{invoice_number}} ({{amount}}) is unpaid',
} as const satisfies Record<MessageKind, string>;

const BUTTON = 'Pay {{amount}} now';

/** The built-in texts of each kind of message. */
export const DEFAULT_TEMPLATES: Readonly<Record<MessageKind, TemplateTexts>> = Object.fromEntries(
  (['first', 'reminder1', 'reminder2', 'reminder3'] as const).map((kind) => [
    kind,
    { subject: SUBJECT[kind], text: text(INTRO[kind], AFTER[kind]), html: html(INTRO[kind], AFTER[kind], BUTTON) },
  ]),
) as Record<MessageKind, TemplateTexts>;
