/**
 * The job processors a worker runs, handed in by the entry points (the
 * commands that start workers, `serve`, the library's index): the pipeline
 * knows each job's contract (create-link-job.ts, notify-job.ts), never its
 * processor, so nothing below the entry points imports `jobs/`. The set the
 * entry points hand in is `jobs/index.ts`.
 */
import type { CreateLinkProcessor } from './create-link-job.js';
import type { NotifyProcessor } from './notify-job.js';
import type { ConfirmPaymentProcessor } from './payment-event-job.js';
import type { SendMailProcessor } from './mail-job.js';

export interface Processors {
  createLink: CreateLinkProcessor;
  notify: NotifyProcessor;
  confirmPayment: ConfirmPaymentProcessor;
  /** Messages to customers (issue 19); without it, a worker sends none. */
  sendMail?: SendMailProcessor;
}
