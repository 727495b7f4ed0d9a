/** SIGINT/SIGTERM as an AbortSignal, and the exit code of whichever came. */
import { EXIT } from './exit-codes.js';

export interface Interruption {
  signal: AbortSignal;
  /** Resolves when the first signal arrives. */
  stopped: Promise<void>;
  /** 130 after SIGINT, 143 after SIGTERM. */
  exitCode: () => number;
  dispose: () => void;
}

export function interruption(): Interruption {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const on = (sig: NodeJS.Signals) => {
    if (received) return;
    received = sig;
    controller.abort();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: controller.signal,
    stopped: new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true })),
    exitCode: () => (received === 'SIGTERM' ? EXIT.SIGTERM : EXIT.SIGINT),
    dispose: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
