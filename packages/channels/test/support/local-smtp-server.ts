import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { ChannelDelivery, ChannelReceiver } from '@crm-automation/testing';
import { messageTaking, type TakesMessages } from './local-http-server.js';

export const SMTP_USER = 'mailer';
export const SMTP_PASS = 'mailer-secret';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** Header fields, lower-cased names, unfolded. */
  headers: Record<string, string>;
  /** The raw message (headers and body). */
  raw: string;
}

type Failure = { at: 'rcpt' | 'data'; code: number; message: string } | { at: 'data'; holdMs: number };

export interface LocalSmtpServer extends ChannelReceiver, TakesMessages {
  port: number;
  mails: ReceivedMail[];
  authenticated: string[];
  failNext(failure: Failure): void;
  close(): Promise<void>;
}

function parseHeaders(raw: string): Record<string, string> {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** A real SMTP server (the smtp-server package) on a free loopback port, with AUTH PLAIN/LOGIN. */
export async function startLocalSmtpServer(): Promise<LocalSmtpServer> {
  const mails: ReceivedMail[] = [];
  const authenticated: string[] = [];
  const failures: Failure[] = [];
  const taking = messageTaking(() => mails.length);
  const reject = (failure: { code: number; message: string }) => Object.assign(new Error(failure.message), { responseCode: failure.code });

  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASS) {
        authenticated.push(auth.username ?? '');
        return callback(null, { user: auth.username });
      }
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(_address, _session, callback) {
      const next = failures[0];
      if (next?.at === 'rcpt' && 'code' in next) {
        failures.shift();
        return callback(reject(next));
      }
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const failure = failures[0]?.at === 'data' ? failures.shift() : undefined;
        if (failure && 'code' in failure) return callback(reject(failure));
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          headers: parseHeaders(raw),
          raw,
        });
        taking.took();
        // The server has the whole message but has not said so yet: the reply to DATA is late.
        if (failure) return void setTimeout(() => callback(), failure.holdMs);
        return callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    mails,
    authenticated,
    failNext: (failure) => failures.push(failure),
    waitForMessages: taking.waitFor,
    deliveries: (): ChannelDelivery[] =>
      mails.map((m) => ({ recipient: m.to[0], idempotencyKey: m.headers['x-automation-idempotency-key'] })),
    failNextTransient: () => failures.push({ at: 'rcpt', code: 451, message: '4.7.1 Greylisted, try again later' }),
    failNextPermanent: () => failures.push({ at: 'rcpt', code: 550, message: '5.1.1 Mailbox does not exist' }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
