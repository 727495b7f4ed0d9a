/**
 * The one place the send path renders a message: `mailtpl`'s templates
 * (templates.ts), loaded once at start (`PAYLINKS_TEMPLATES`; a template
 * with an unknown placeholder stops the start, naming it).
 */
import { loadTemplates, renderMessage, type MessageFields, type MessageKind, type RenderedMessage, type Templates } from './templates.js';

export type { MessageFields, MessageKind, RenderedMessage };

/** Renders messages with the templates of `templatesDir` (the built-in ones where it has none). */
export function messageRenderer(templatesDir: string | undefined): (kind: MessageKind, fields: MessageFields) => RenderedMessage {
  const templates: Templates = loadTemplates(templatesDir);
  return (kind, fields) => renderMessage(templates, kind, fields);
}
