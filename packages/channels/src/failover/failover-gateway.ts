import { AutomationError, checkOptions, GatewayError, optionKeys, positiveIntOption, type ActionCommand, type ChannelGateway, type SendContext } from '@crm-automation/core';
import { providerName } from '../validation/command-params.js';

/** When the next provider is tried. */
export type FailoverTrigger = 'refused' | 'undelivered';

export interface FailoverOptions {
  /**
   * `refused`: a provider's permanent refusal (not retryable, not ambiguous) sends the command through
   * the next one, in the same send. `undelivered`: a receipt saying a message was undelivered within
   * `within` of its acceptance makes the engine send the action again, through a provider not yet
   * tried. Default `['refused']`.
   */
  on?: FailoverTrigger | readonly FailoverTrigger[] | undefined;
  /** With `undelivered`: how soon after the acceptance an undelivered receipt still fails over, in ms. */
  within?: number | undefined;
  /** The gateway's name. Default `failover(<name>,<name>,...)`. */
  name?: string | undefined;
}

const FAILOVER_OPTION_KEYS = optionKeys<FailoverOptions>()('on', 'within', 'name');
const TRIGGERS: readonly FailoverTrigger[] = ['refused', 'undelivered'];

/** The provider clearly did not take the message: a permanent refusal, not a maybe. */
function isRefusal(error: unknown): boolean {
  const e = error as { retryable?: unknown; ambiguous?: unknown } | null;
  return typeof e === 'object' && e !== null && e.retryable !== true && e.ambiguous !== true;
}

/** The gateway's result, naming the provider that took the message. */
function takenBy(provider: string, result: unknown): unknown {
  if (typeof result === 'object' && result !== null && !Array.isArray(result)) return { ...result, provider };
  return { provider, id: null, ...(result === undefined ? {} : { result }) };
}

/**
 * One gateway in front of several providers of the same action type, tried in order. The next
 * provider is tried only when the previous one clearly did not take the message:
 * - `on: 'refused'`: a permanent refusal (an error that is neither retryable nor ambiguous) in the
 *   same send. A transient error is thrown as is (the engine retries the whole send later, from the
 *   first provider), and so is an ambiguous one: a timeout or a connection lost after the request
 *   was written may have delivered the message, and failing over could send it twice.
 * - `on: 'undelivered'`: the gateway declares `failover` (its providers and `within`), so when a
 *   receipt says a message was undelivered within `within` of its acceptance the engine sends the
 *   action again with `metadata.excludeProviders` naming the providers that failed; they are skipped.
 *
 * The result names the provider that took the message (`{ provider: 'twilio-backup', id }`), so the
 * delivery ledger, receipts and metrics do too. Every provider needs its own `name`.
 *
 * @example
 * const sms = createFailoverGateway([createTwilioSms(main), createTwilioSms({ ...backup, name: 'twilio-backup' })], { on: ['refused', 'undelivered'], within: 600_000 });
 */
export function createFailoverGateway(gateways: readonly ChannelGateway[], options: FailoverOptions = {}): ChannelGateway {
  checkOptions('createFailoverGateway', options, FAILOVER_OPTION_KEYS, true);
  if (!Array.isArray(gateways) || gateways.length < 2) throw new AutomationError('CRM_ERR_CONFIG', 'createFailoverGateway needs at least two gateways, in the order to try them');
  const names = gateways.map((g, i) => {
    if (typeof g?.send !== 'function') throw new AutomationError('CRM_ERR_CONFIG', `createFailoverGateway: gateways[${i}] is not a gateway (no send)`);
    if (typeof g.name !== 'string' || g.name === '') throw new AutomationError('CRM_ERR_CONFIG', `createFailoverGateway: gateways[${i}] has no name; give each provider its own (e.g. name: 'twilio-backup')`);
    return g.name;
  });
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new AutomationError('CRM_ERR_CONFIG', `createFailoverGateway: two gateways are named ${JSON.stringify(duplicate)}; receipts and deliveries could not tell them apart`);
  const on: readonly FailoverTrigger[] = options.on === undefined ? ['refused'] : typeof options.on === 'string' ? [options.on] : options.on;
  if (!Array.isArray(on) || on.length === 0 || on.some((t) => !TRIGGERS.includes(t))) {
    throw new AutomationError('CRM_ERR_CONFIG', `createFailoverGateway: on must be 'refused', 'undelivered' or both, got ${JSON.stringify(options.on)}`);
  }
  const onRefused = on.includes('refused');
  const onUndelivered = on.includes('undelivered');
  if (onUndelivered && options.within === undefined) throw new AutomationError('CRM_ERR_CONFIG', "createFailoverGateway: on: 'undelivered' needs within (ms after acceptance an undelivered receipt still fails over)");
  if (!onUndelivered && options.within !== undefined) throw new AutomationError('CRM_ERR_CONFIG', "createFailoverGateway: within applies to on: 'undelivered' only");
  const within = onUndelivered ? positiveIntOption('createFailoverGateway: within', options.within, 0) : undefined;
  // Checked like every provider name: it names the deliveries, logs and metrics of the composite.
  const name = options.name === undefined ? `failover(${names.join(',')})` : providerName('createFailoverGateway', options.name, 'failover');
  const [first] = gateways;

  return {
    name,
    // Only when every provider would recognise a resend of the same key: a retry may reach any of them.
    ...(gateways.every((g) => g.dedupes === true) ? { dedupes: true } : {}),
    ...(first?.paramsSchema ? { paramsSchema: first.paramsSchema } : {}),
    ...(first?.commandSchema ? { commandSchema: first.commandSchema } : {}),
    // The providers are declared even without `within`: a receipt names the provider that took the
    // message, and the engine finds a send taken by any of them through this gateway.
    failover: within === undefined ? { providers: names } : { providers: names, undeliveredWithinMs: within },
    async send(command: ActionCommand, context?: SendContext): Promise<unknown> {
      const excluded = onUndelivered ? new Set(command.metadata.excludeProviders ?? []) : new Set<string>();
      const candidates = gateways.filter((g) => !excluded.has(g.name ?? ''));
      if (candidates.length === 0) {
        throw new GatewayError(`${name}: every provider (${names.join(', ')}) already failed this message`, { provider: name, retryable: false, providerCode: 'providers_exhausted' });
      }
      let refusal: unknown;
      for (const gateway of candidates) {
        // The engine gave up on this send; a provider not yet called must not start it.
        if (context?.signal.aborted) break;
        try {
          return takenBy(gateway.name ?? name, await gateway.send(command, context));
        } catch (error) {
          if (!onRefused || !isRefusal(error)) throw error;
          refusal = error;
        }
      }
      throw refusal ?? new GatewayError(`${name}: the send was aborted before a provider took it`, { provider: name, retryable: true });
    },
  };
}
