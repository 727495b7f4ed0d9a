/**
 * The drop folder as a plugin of `paylinks serve`: started with the server,
 * on the server's Redis, account and settings, and closed in the server's
 * `onClose` (before the workers stop, so no file is taken that no worker
 * would send).
 */
import type { ServePlugin } from '../serve/server.js';
import { startInbox, type InboxOptions } from './inbox.js';

export function inboxPlugin(dir: string, extra: Pick<InboxOptions, 'onSubmitted'> = {}): ServePlugin {
  return async (app, ctx) => {
    const inbox = await startInbox({
      dir,
      backend: ctx.backend,
      account: ctx.account,
      logger: ctx.logger,
      settleMs: ctx.config.inboxSettleMs,
      pollMs: ctx.config.inboxPollMs,
      ...extra,
    });
    app.addHook('onClose', () => inbox.close());
  };
}
