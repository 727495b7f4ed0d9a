/**
 * Every job processor paylinks has: what the entry points hand to the
 * workers (see src/pipeline/processors.ts).
 */
import type { Processors } from '../src/pipeline/processors.js';
import { confirmPaymentProcessor } from './confirm-payment.js';
import { createLinkProcessor } from './create-link.js';
import { notifyProcessor } from './notify.js';
import { sendMailProcessor } from './send-mail.js';

export const PROCESSORS: Processors = { createLink: createLinkProcessor, notify: notifyProcessor, confirmPayment: confirmPaymentProcessor, sendMail: sendMailProcessor };
