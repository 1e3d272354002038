import type { WebhookAddressPolicy } from '../net/webhook-address-policy.js';

/** What the engine attaches to every command: the design doc's notification `metadata`. */
export interface CommandMetadata {
  source: 'automation-engine';
  ruleId: string;
  triggerId: string;
  accountId: string;
  actionIndex: number;
  /** `triggerId:actionIndex`: the same command always carries the same key. */
  idempotencyKey: string;
  /**
   * The delivery ledger's id of this send, when the engine keeps a ledger: gateways pass it where the
   * provider echoes it back in receipts (a status-callback URL, custom args), so a receipt finds its
   * send even when the provider's answer was lost.
   */
  deliveryId?: string | undefined;
  /**
   * Providers that already took this action and reported it undelivered: a failover gateway sends
   * through one of its others. Set by the engine when it sends an action again after such a receipt.
   */
  excludeProviders?: readonly string[] | undefined;
}

/**
 * One action, ready to send: templates rendered, fact references resolved.
 * `{ ...params, metadata }` is the design doc's notification request body.
 */
export interface ActionCommand<P extends Record<string, unknown> = Record<string, unknown>> {
  type: string;
  params: P;
  metadata: CommandMetadata;
  /** Trace context of the send (when tracing is on); HTTP gateways forward it as headers. */
  trace?: Record<string, string> | undefined;
}

/** Rendered SMS params. */
export interface SmsCommandParams extends Record<string, unknown> {
  recipient: string;
  message: string;
}

/** Rendered email params; `templateData` is the event payload when a `templateId` is named. */
export interface EmailCommandParams extends Record<string, unknown> {
  recipient: string;
  subject: string;
  body?: string;
  html?: string;
  templateId?: string;
  templateData?: Record<string, unknown>;
}

/** Rendered webhook params. */
export interface WebhookCommandParams extends Record<string, unknown> {
  url: string;
  method: string;
  headers: Record<string, string>;
  payload?: unknown;
}

/** Minimal schema shape (zod's `safeParse`) a custom gateway may offer to validate rule params. */
export interface ParamsSchema {
  safeParse(value: unknown): {
    success: boolean;
    error?: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string }> } | undefined;
  };
}

/** What the engine hands a gateway with each command. */
export interface SendContext {
  /**
   * Aborted when the engine gives up waiting (its `sendTimeoutMs`). A gateway stops the request when
   * it can; the engine records the send as `unknown` (it may have reached the provider).
   */
  signal: AbortSignal;
}

/**
 * Delivers commands of one action type. A thrown error whose `retryable` property is `true` is
 * transient (the trigger retries with backoff); any other thrown error is permanent. An error whose
 * `ambiguous` property is `true` says the request may have reached the provider (a timeout or a lost
 * connection after it was written): the send is recorded as `unknown` and is not retried unless the
 * gateway `dedupes`.
 */
export interface ChannelGateway<P extends Record<string, unknown> = Record<string, unknown>> {
  send(command: ActionCommand<P>, context?: SendContext): Promise<unknown>;
  /**
   * The provider deduplicates by `metadata.idempotencyKey` (a webhook receiver by `webhook-id`, an
   * SMTP relay by Message-ID): an `unknown` send may then be retried safely. Default false.
   */
  readonly dedupes?: boolean | undefined;
  /** Provider name for logs and metrics. */
  readonly name?: string | undefined;
  /**
   * A gateway in front of several providers (`createFailoverGateway`): when a receipt says a send
   * was undelivered within `undeliveredWithinMs` of its acceptance, the engine sends the action again
   * once per remaining provider (`metadata.excludeProviders` names those that failed).
   */
  readonly failover?: { readonly providers: readonly string[]; readonly undeliveredWithinMs?: number | undefined } | undefined;
  /**
   * Validates the `params` of rules that use this gateway's action type, at save time (templates
   * allowed). Built-in types fall back to core's schema (`smsRuleParamsSchema`, ...); a gateway may
   * pass a stricter one, such as the webhook gateway's, which checks URLs with its address policy.
   */
  readonly paramsSchema?: ParamsSchema | undefined;
  /**
   * The destinations a webhook gateway may reach besides public addresses (`createWebhook`'s
   * `allowPrivateNetworks` / `allowHosts`). An engine with this gateway validates rules with it, so
   * the policy is configured once, on the gateway.
   */
  readonly addressPolicy?: WebhookAddressPolicy | undefined;
  /**
   * Validates rendered `params` before every send (and in the Notification Service). Built-in types
   * fall back to core's schema (`smsCommandSchema`, ...). A failure is a permanent `CRM_ERR_RENDER`.
   */
  readonly commandSchema?: ParamsSchema | undefined;
}

/** Action type (`sms`, `email`, `webhook`, or any custom type) to gateway. */
export type ChannelMap = Readonly<Record<string, ChannelGateway>>;
