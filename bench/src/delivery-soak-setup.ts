/**
 * What the orchestrator and every engine process of the delivery soak share: the real gateways of
 * `@crm-automation/channels` pointed at the provider stand-in, the two rules, the events and the
 * engine settings.
 */
import { createTwilioSms, createWebhook } from '@crm-automation/channels';
import type { AutomationEngineOptions, AutomationEvent, ChannelMap, RuleInput } from '@crm-automation/core';

export const SOAK_ACCOUNT = 'acc_soak';
export const WEBHOOK_EVENT = 'soak.webhook';
export const SMS_EVENT = 'soak.sms';

/** Engine settings of the soak, passed to every engine process in its environment. */
export interface SoakTuning {
  /** The engine's `sendTimeoutMs`; the stand-in's slow answers take longer than this. */
  sendTimeoutMs: number;
  /** The engine's `leaseMs`: how long a killed engine's claimed triggers wait before another takes them. */
  leaseMs: number;
  pollIntervalMs: number;
  concurrency: number;
  batchSize: number;
  /** Control run: the SMS gateway declares `dedupes` although the provider does not deduplicate. */
  smsClaimsDedupe: boolean;
}

/**
 * The gateways: the webhook gateway (declares `dedupes`: the receiver deduplicates by `webhook-id`) and
 * the Twilio gateway (no dedupe) on the stand-in's Twilio-shaped face. The status callback is never
 * called here; it is set so every SMS request carries its ledger delivery id (`?d=`), which is how the
 * audit ties what the provider received to the ledger's record.
 */
export function soakChannels(providerUrl: string, tuning: Pick<SoakTuning, 'smsClaimsDedupe'>): ChannelMap {
  const sms = createTwilioSms({
    accountSid: 'ACsoak00000000000000000000000000',
    authToken: 'soak-token',
    from: '+15550001111',
    baseUrl: providerUrl,
    statusCallback: `${providerUrl}/receipts/twilio`,
    timeoutMs: 30_000,
  });
  return {
    webhook: createWebhook({ unsigned: true, allowPrivateNetworks: true, timeoutMs: 30_000 }),
    sms: tuning.smsClaimsDedupe ? { ...sms, dedupes: true } : sms,
  };
}

export function soakEngineOptions(tuning: SoakTuning): Pick<AutomationEngineOptions, 'sendTimeoutMs' | 'leaseMs' | 'pollIntervalMs' | 'concurrency' | 'batchSize' | 'backoff' | 'maxAttempts' | 'webhookAddressPolicy'> {
  return {
    sendTimeoutMs: tuning.sendTimeoutMs,
    leaseMs: tuning.leaseMs,
    pollIntervalMs: tuning.pollIntervalMs,
    concurrency: tuning.concurrency,
    batchSize: tuning.batchSize,
    // Short backoff so a busy provider's retries finish within the run; the budget stays the default.
    backoff: { baseMs: 200, maxMs: 2_000 },
    maxAttempts: 5,
    webhookAddressPolicy: { allowPrivateNetworks: true },
  };
}

/** One rule per channel, one action each, matching every event of its name. */
export function soakRules(providerUrl: string): RuleInput[] {
  const always = { all: [{ fact: 'soak', path: '$.seq', operator: 'greaterThanInclusive' as const, value: 0 }] };
  return [
    {
      name: 'soak webhook',
      trigger: { eventName: WEBHOOK_EVENT },
      delay: { value: 0, unit: 'seconds' },
      conditions: always,
      actions: [{ type: 'webhook', params: { url: `${providerUrl}/hooks/soak`, method: 'POST', payload: { seq: '{{soak.seq}}' } } }],
    },
    {
      name: 'soak sms',
      trigger: { eventName: SMS_EVENT },
      delay: { value: 0, unit: 'seconds' },
      conditions: always,
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'soak #{{soak.seq}}' } }],
    },
  ];
}

/** Even sequence numbers go to the webhook, odd ones to SMS. */
export const channelOfSeq = (seq: number): 'webhook' | 'sms' => (seq % 2 === 0 ? 'webhook' : 'sms');

export const soakEvent = (seq: number, at: Date): AutomationEvent => ({
  id: `soak-${seq}`,
  name: channelOfSeq(seq) === 'webhook' ? WEBHOOK_EVENT : SMS_EVENT,
  accountId: SOAK_ACCOUNT,
  timestamp: at,
  payload: { soak: { seq } },
});
