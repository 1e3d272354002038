import type { AutomationEngine, Delivery, DeliveryFilter, DeliveryState } from '@crm-automation/core';
import { normalizedRecipient } from '@crm-automation/core/spi';
import type { Output } from '../output.js';
import { formatTable } from './dead-letters.js';

export interface DeliveryListOptions {
  accountId: string;
  triggerId?: string | undefined;
  states?: readonly DeliveryState[] | undefined;
  /** As typed: found the way the ledger stores recipients (an email address lower-cased). */
  recipient?: string | undefined;
  provider?: string | undefined;
  providerId?: string | undefined;
  /** At most this many (default 50). */
  limit?: number | undefined;
}

const PAGE = 500;

/**
 * The ledger keeps recipients normalised (core's `normalizedRecipient`), so what the user typed is
 * normalised the same way; the action type only matters for webhooks, whose recipient is a host.
 */
const recipientKey = (typed: string): string => normalizedRecipient('email', { recipient: typed }) ?? typed;

/** An account's deliveries by filter, newest first as the ledger orders them, up to `limit`. */
export async function listDeliveries(engine: Pick<AutomationEngine, 'deliveries'>, options: DeliveryListOptions): Promise<Delivery[]> {
  const limit = options.limit ?? 50;
  const filter: DeliveryFilter = {
    ...(options.triggerId === undefined ? {} : { triggerId: options.triggerId }),
    ...(options.states && options.states.length > 0 ? { state: [...options.states] } : {}),
    ...(options.recipient === undefined ? {} : { recipient: recipientKey(options.recipient) }),
    ...(options.provider === undefined ? {} : { provider: options.provider }),
    ...(options.providerId === undefined ? {} : { providerId: options.providerId }),
  };
  const found: Delivery[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.deliveries.list(options.accountId, { ...filter, limit: Math.min(PAGE, limit - found.length), ...(cursor === undefined ? {} : { cursor }) });
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && found.length < limit);
  return found.slice(0, limit);
}

/** What the last event says (a provider's status word, an operator's note) or why it failed. */
function detail(d: Delivery): string {
  if (d.error) return `${d.error.code} ${d.error.message}`;
  const last = d.events.at(-1);
  return last?.detail ? `${last.source}: ${last.detail}` : '';
}

export function printDeliveries(output: Output, deliveries: readonly Delivery[]): void {
  if (output.json) return output.out(JSON.stringify(deliveries, null, 2));
  if (deliveries.length === 0) return output.out('no deliveries');
  output.out(
    formatTable(
      ['ID', 'STATE', 'TYPE', 'PROVIDER', 'PROVIDER ID', 'RECIPIENT', 'TRIGGER', 'UPDATED', 'DETAIL'],
      deliveries.map((d) => [d.id, d.state, d.type, d.provider, d.providerId ?? '', d.recipient ?? '', `${d.triggerId} [${d.actionIndex}]`, d.updatedAt.toISOString(), detail(d)]),
    ),
  );
  output.out(`${deliveries.length} deliver${deliveries.length === 1 ? 'y' : 'ies'}`);
}
