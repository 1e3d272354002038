import type { PostedReceipt } from './receipt-poster.js';
import type { ReceivedReply, RefusedSms } from './twilio-replies.js';

/** What the stand-ins received, in order, for people (`GET /received`) and tests. */
export interface ReceivedSms {
  to: string;
  from: string;
  body: string;
  sid: string;
  statusCallback?: string | undefined;
  at: string;
}

export interface ReceivedEmail {
  to: string[];
  from: string;
  subject: string | null;
  templateId: string | null;
  templateData: unknown;
  customArgs: Record<string, string>;
  messageId: string;
  at: string;
}

export interface ReceivedWebhook {
  path: string;
  method: string;
  webhookId: string;
  payload: unknown;
  at: string;
}

export interface ReceivedLog {
  sms: ReceivedSms[];
  email: ReceivedEmail[];
  webhook: ReceivedWebhook[];
  /** Delivery receipts the stand-ins posted back (Twilio status callbacks, SendGrid events), with the answers. */
  receipts: PostedReceipt[];
  /** Texts people sent back to our numbers (`POST /twilio/replies`), with the webhook each posted. */
  replies: ReceivedReply[];
  /** Sends Twilio refused because the recipient had replied STOP (error 21610). */
  refused: RefusedSms[];
}

export function emptyLog(): ReceivedLog {
  return { sms: [], email: [], webhook: [], receipts: [], replies: [], refused: [] };
}
