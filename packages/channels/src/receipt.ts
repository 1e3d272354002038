/** What a gateway of this package returns for a delivered command (kept in the execution history). */
export interface SendReceipt {
  /** `twilio`, `sendgrid`, `smtp`, `webhook`. */
  provider: string;
  /** The provider's id of the message (Twilio `sid`, SendGrid `X-Message-Id`, SMTP Message-ID, webhook-id). */
  id: string | null;
  /** HTTP status (or SMTP reply code) of the accepting answer. */
  status?: number | undefined;
  /** The provider's own delivery status, when it reports one (Twilio `queued`, ...). */
  providerStatus?: string | undefined;
}
