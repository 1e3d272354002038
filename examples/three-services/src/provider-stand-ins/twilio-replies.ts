import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { twilioSignature } from './twilio-signature.js';

/** A text a recipient sent back to one of our numbers, as the stand-in handled it (`GET /received`). */
export interface ReceivedReply {
  from: string;
  to: string;
  body: string;
  messageSid: string;
  /** What Twilio's Advanced Opt-Out made of it: STOP and START change whether `to` may text `from` again. */
  optOutType: 'STOP' | 'START' | 'HELP' | null;
  /** The signed "A message comes in" webhook it posted, and the answer; null when none was posted. */
  webhook: { url: string; answer: number | 'unreachable' } | null;
  at: string;
}

/** A send Twilio refused because its recipient had replied STOP to that number. */
export interface RefusedSms {
  to: string;
  from: string;
  body: string;
  code: number;
  at: string;
}

// Twilio's default Advanced Opt-Out keywords (the whole message, any case), kept here on their own
// rather than taken from @crm-automation/http: the stand-in plays Twilio, not the code under test.
const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT']);
const OPT_IN = new Set(['START', 'YES', 'UNSTOP']);
const HELP = new Set(['HELP', 'INFO']);

export function optOutTypeOf(body: string): ReceivedReply['optOutType'] {
  const keyword = body.trim().toUpperCase();
  if (OPT_OUT.has(keyword)) return 'STOP';
  if (OPT_IN.has(keyword)) return 'START';
  if (HELP.has(keyword)) return 'HELP';
  return null;
}

/**
 * Twilio's side of a reply: it keeps who opted out of which of our numbers (a later send from that
 * number to that person is refused with error 21610 until they text START), and posts the signed
 * inbound-message webhook, form-encoded with Twilio's field names, to the number's webhook URL.
 */
export function twilioReplies(options: { authToken: string; accountSid: string; inboundUrl?: string | undefined; logger: Logger }) {
  /** `<our number> <their number>` of everyone who replied STOP and not START since. */
  const optedOut = new Set<string>();
  const pair = (ourNumber: string, theirNumber: string) => `${ourNumber} ${theirNumber}`;

  return {
    inboundUrl: options.inboundUrl,
    /** Whether `to` told `from` (our number) to stop. */
    refuses: (from: string, to: string) => optedOut.has(pair(from, to)),
    forgetOptOuts: () => optedOut.clear(),
    /**
     * `from` (a person) texts `body` to `to` (our number). `webhook: false` records the opt-out at
     * Twilio without telling us, as when the number's webhook is not set or was down: the next send
     * then meets error 21610.
     */
    async reply(text: { from: string; to: string; body: string; webhook?: boolean | undefined }): Promise<ReceivedReply> {
      const messageSid = `SM${randomBytes(16).toString('hex')}`;
      const optOutType = optOutTypeOf(text.body);
      if (optOutType === 'STOP') optedOut.add(pair(text.to, text.from));
      if (optOutType === 'START') optedOut.delete(pair(text.to, text.from));
      const at = new Date().toISOString();
      const url = options.inboundUrl;
      if (!url || text.webhook === false) {
        options.logger.info({ messageSid, optOutType, webhook: null }, 'reply received; no webhook posted');
        return { from: text.from, to: text.to, body: text.body, messageSid, optOutType, webhook: null, at };
      }
      const form = new URLSearchParams({
        ToCountry: 'US',
        SmsMessageSid: messageSid,
        NumMedia: '0',
        SmsSid: messageSid,
        SmsStatus: 'received',
        Body: text.body,
        To: text.to,
        NumSegments: '1',
        MessageSid: messageSid,
        AccountSid: options.accountSid,
        From: text.from,
        ApiVersion: '2010-04-01',
        ...(optOutType ? { OptOutType: optOutType } : {}),
      });
      let answer: number | 'unreachable';
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(options.authToken, url, form) },
          body: form.toString(),
          signal: AbortSignal.timeout(5_000),
        });
        await response.arrayBuffer();
        answer = response.status;
      } catch {
        answer = 'unreachable';
      }
      options.logger.info({ messageSid, optOutType, answer }, 'reply received; inbound webhook posted');
      return { from: text.from, to: text.to, body: text.body, messageSid, optOutType, webhook: { url, answer }, at };
    },
  };
}
