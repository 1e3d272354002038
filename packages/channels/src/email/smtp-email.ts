import { createHash } from 'node:crypto';
import type { createTransport as nodemailerCreateTransport } from 'nodemailer';
import { AutomationError, checkOptions, hasLineBreak, optionKeys, positiveIntOption, type ChannelGateway } from '@crm-automation/core';
import { checkOptionShapes, type OptionShape } from '@crm-automation/core/spi';
import { DEFAULT_TIMEOUT_MS } from '../http/http-exchange.js';
import { permanentFailure, smtpFailure } from '../outcome/gateway-failure.js';
import type { SendReceipt } from '../receipt.js';
import { providerName } from '../validation/command-params.js';
import { emailGatewaySchemas, senderOf, validEmailCommand, type EmailSender } from './email-gateway-parts.js';

/** What a template renderer produces for {@link SmtpEmailOptions.renderTemplate}. */
export interface RenderedEmail {
  subject?: string | undefined;
  text?: string | undefined;
  html?: string | undefined;
}

export interface SmtpEmailOptions {
  host: string;
  /** Default 587, or 465 with `secure`. */
  port?: number | undefined;
  /** Implicit TLS (port 465). Without it, STARTTLS is used when the server offers it. */
  secure?: boolean | undefined;
  /** Refuse to send unless STARTTLS succeeds. */
  requireTLS?: boolean | undefined;
  auth?: { user: string; pass: string } | undefined;
  from: EmailSender;
  /** Domain of the generated Message-ID; default: the sender's domain. */
  messageIdDomain?: string | undefined;
  /** Deadline for each SMTP phase (connect, greeting, commands). Default 10 s. */
  timeoutMs?: number | undefined;
  /** TLS options for self-signed or private CAs (`{ ca }`, `{ rejectUnauthorized: false }` in tests). */
  tls?: { ca?: string | Buffer | undefined; rejectUnauthorized?: boolean | undefined; servername?: string | undefined } | undefined;
  /**
   * SMTP has no server-side templates: an action naming a `templateId` needs this renderer (it gets
   * the id and the event payload). Without it, such actions fail permanently unless they also carry
   * a body or html.
   */
  renderTemplate?: ((templateId: string, data: Record<string, unknown>) => RenderedEmail | Promise<RenderedEmail>) | undefined;
  /** Provider name in deliveries, logs and metrics. Default `smtp`. */
  name?: string | undefined;
}

const SMTP_OPTION_KEYS = optionKeys<SmtpEmailOptions>()('host', 'port', 'secure', 'requireTLS', 'auth', 'from', 'messageIdDomain', 'timeoutMs', 'tls', 'renderTemplate', 'name');
const AUTH_KEYS = optionKeys<NonNullable<SmtpEmailOptions['auth']>>()('user', 'pass');
const TLS_KEYS = optionKeys<NonNullable<SmtpEmailOptions['tls']>>()('ca', 'rejectUnauthorized', 'servername');

/**
 * nodemailer's `createTransport`, handed in by the entry that loaded nodemailer: `/smtp` imports it,
 * the deprecated main-entry export loads it on first call, so nodemailer stays an optional peer.
 */
export type SmtpTransportFactory = typeof nodemailerCreateTransport;

/** A gateway that owns a connection and can be closed. */
export interface ClosableChannelGateway extends ChannelGateway {
  close(): Promise<void>;
}

// The kinds of value the known keys hold: a wrong one is a CRM_ERR_CONFIG naming it, not a TypeError later.
const SMTP_OPTION_SHAPES: Readonly<Partial<Record<keyof SmtpEmailOptions, OptionShape>>> = {
  host: { kind: 'string', what: 'a host name or address' },
  secure: { kind: 'boolean', what: 'true or false' },
  requireTLS: { kind: 'boolean', what: 'true or false' },
  messageIdDomain: { kind: 'string', what: 'a domain name' },
  renderTemplate: { kind: 'function', what: 'a function rendering a templateId' },
};

/** The SMTP gateway on the `createTransport` it is handed; `createSmtpEmail` (entries/smtp.ts) documents it. */
export function smtpEmailGateway(createTransport: SmtpTransportFactory, options: SmtpEmailOptions): ClosableChannelGateway {
  checkOptions('createSmtpEmail', options, SMTP_OPTION_KEYS, true);
  checkOptionShapes('createSmtpEmail', options, SMTP_OPTION_SHAPES);
  checkOptions('createSmtpEmail: auth', options.auth, AUTH_KEYS);
  checkOptions('createSmtpEmail: tls', options.tls, TLS_KEYS);
  if (!options.host) throw new AutomationError('CRM_ERR_CONFIG', 'createSmtpEmail needs a host');
  const from = senderOf('smtp', options.from, 'createSmtpEmail');
  const domain = options.messageIdDomain ?? from.email.slice(from.email.lastIndexOf('@') + 1);
  const timeoutMs = positiveIntOption('createSmtpEmail: timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
  const name = providerName('createSmtpEmail', options.name, 'smtp');
  const port = options.port ?? (options.secure === true ? 465 : 587);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new AutomationError('CRM_ERR_CONFIG', `createSmtpEmail: port must be an integer from 1 to 65535, got ${JSON.stringify(port) ?? String(port)}`);
  const transporter = createTransport({
    host: options.host,
    port,
    secure: options.secure ?? false,
    requireTLS: options.requireTLS ?? false,
    ...(options.auth ? { auth: { user: options.auth.user, pass: options.auth.pass } } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
  });

  return {
    name,
    // The Message-ID is derived from the idempotency key: a resent message is the same message to
    // every receiving system that de-duplicates by Message-ID, so an `unknown` send may be retried.
    dedupes: true,
    ...emailGatewaySchemas,
    async send(command, context): Promise<SendReceipt> {
      const email = validEmailCommand(name, command.params);
      let { subject } = email;
      let text = email.body;
      let html = email.html;
      if (email.templateId !== undefined && text === undefined && html === undefined) {
        if (!options.renderTemplate) {
          throw permanentFailure(name, `templateId ${JSON.stringify(email.templateId)} needs a renderTemplate option; SMTP has no server-side templates`, 'template_unsupported');
        }
        const rendered = await options.renderTemplate(email.templateId, email.templateData ?? {});
        text = rendered.text;
        html = rendered.html;
        if (rendered.subject !== undefined) {
          if (hasLineBreak(rendered.subject)) throw permanentFailure(name, 'the rendered subject contains a line break (header injection refused)', 'header_injection');
          subject = rendered.subject;
        }
      }
      const key = command.metadata.idempotencyKey;
      const messageId = `<${createHash('sha256').update(key).digest('hex').slice(0, 32)}@${domain}>`;
      try {
        const info = await transporter.sendMail({
          from: from.name === undefined ? from.email : { address: from.email, name: from.name },
          to: email.recipient,
          subject,
          ...(text !== undefined ? { text } : {}),
          ...(html !== undefined ? { html } : {}),
          messageId,
          headers: { 'X-Automation-Idempotency-Key': key },
          disableFileAccess: true,
          disableUrlAccess: true,
          // nodemailer closes the connection when the engine gives up (its sendTimeoutMs).
          ...(context?.signal ? { signal: context.signal } : {}),
        });
        if (info.rejected.length > 0) {
          throw permanentFailure(name, `the server rejected ${info.rejected.join(', ')}: ${info.response}`, 'rejected');
        }
        const reply = /^(\d{3})/.exec(info.response)?.[1];
        return { provider: name, id: info.messageId, ...(reply ? { status: Number(reply) } : {}) };
      } catch (error) {
        if (error instanceof AutomationError) throw error;
        throw smtpFailure(name, error);
      }
    },
    async close() {
      transporter.close();
    },
  };
}
