/**
 * The drop folder as a Fastify plugin: `app.register(inboxPlugin, options)`
 * starts it with the server and closes it in the server's `onClose`.
 */
import { startInbox, type InboxOptions } from './inbox.js';

/** The part of a Fastify instance the plugin uses. */
export interface OnCloseHost {
  addHook(name: 'onClose', hook: (instance: never) => Promise<void>): unknown;
}

export async function inboxPlugin(app: OnCloseHost, options: InboxOptions): Promise<void> {
  const inbox = await startInbox(options);
  app.addHook('onClose', () => inbox.close());
}
