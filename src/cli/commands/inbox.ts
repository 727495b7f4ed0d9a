/** `paylinks inbox DIR`: the drop folder and the workers in one process. */
import type { Command } from 'commander';
import { runInboxService } from '../../inbox/inbox-service.js';
import { action, type SetExit } from '../action.js';
import { ConfigError } from '../../core/errors.js';
import { withConfigFlags } from '../flags.js';
import { interruption } from '../interruption.js';

export function addInboxCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('inbox'), 'all')
    .description('Watch a drop folder: files dropped into DIR/inbox become batches, outputs appear in DIR/out. Runs the workers too.')
    .argument('[dir]', 'the drop folder (PAYLINKS_INBOX); inbox/, processing/, done/, failed/ and out/ are made under it')
    .addHelpText('after', '\nA file is taken once unchanged for PAYLINKS_INBOX_SETTLE_MS; the folder is listed every PAYLINKS_INBOX_POLL_MS.\nOn SIGTERM it stops taking files, finishes the rows in flight and exits 143; files in processing/ are resumed on the next start.')
    .action(
      action(setExit, async ({ config, logger }, dir: string | undefined) => {
        const folder = dir ?? config.inbox;
        if (folder === undefined) throw new ConfigError('CONFIG_MISSING', 'PAYLINKS_INBOX', 'PAYLINKS_INBOX: expected a folder path (or give it as the argument), got nothing');
        const stop = interruption();
        try {
          await runInboxService({ config, logger, dir: folder, stop: stop.stopped });
          return stop.exitCode();
        } finally {
          stop.dispose();
        }
      }),
    );
}
