import type { AutomationStore, DeliveryLedger } from '@crm-automation/core';
import { CliError } from '../cli-error.js';
import type { StoreKind } from './store-backend.js';

/** What the engine needs to keep a ledger on a store (its own test) and what the deliveries commands call. */
const LEDGER_METHODS = ['recordIntents', 'recordOutcomes', 'getDelivery', 'listDeliveries', 'deliveriesOfTrigger', 'resolveDelivery'] as const satisfies ReadonlyArray<keyof DeliveryLedger>;

const NAMES: Record<StoreKind, string> = { mongo: 'MongoDB', postgres: 'PostgreSQL' };

/** True when the store is also a delivery ledger, as the engine decides it (the memory and MongoDB stores are). */
export function keepsDeliveryLedger(store: AutomationStore): boolean {
  const candidate = store as Partial<Record<(typeof LEDGER_METHODS)[number], unknown>>;
  return LEDGER_METHODS.every((method) => typeof candidate[method] === 'function');
}

/**
 * Throws `CRM_ERR_CLI_NO_LEDGER` when the store keeps no ledger. Without this check the engine's
 * `deliveries` API would fail with a generic `CRM_ERR_CONFIG` about engine options the CLI's user
 * never set.
 */
export function requireDeliveryLedger(store: AutomationStore, kind: StoreKind | undefined): void {
  if (keepsDeliveryLedger(store)) return;
  const name = kind === undefined ? 'this store' : `the ${NAMES[kind]} store`;
  throw new CliError(
    'CRM_ERR_CLI_NO_LEDGER',
    `${name} keeps no delivery ledger${kind === undefined ? '' : ` (this version of @crm-automation/adapter-${kind} has none)`}: ` +
      'install an adapter version whose store includes one and run `crm-automation ensure-schema`, then the services record every send',
  );
}
