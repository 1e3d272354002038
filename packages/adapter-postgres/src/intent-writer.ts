import { AutomationError, type Delivery, type Logger, type NewDelivery } from '@crm-automation/core';
import type { Database } from './connection.js';
import { timestampParam } from './dates.js';
import { ledgerText, type DeliveryRow } from './delivery-rows.js';
import type { deliveryStatements } from './delivery-statements.js';
import { markTransient, serverRefused } from './transient-errors.js';

function requireInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2_147_483_647) throw new AutomationError('CRM_ERR_CONFIG', `${field} must be a non-negative integer, got ${String(value)}`);
  return value;
}

function requireText(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new AutomationError('CRM_ERR_CONFIG', `${field} must be a string, got ${value === null ? 'null' : typeof value}`);
  return ledgerText(value);
}

/**
 * One intent as the insert statement reads it (`json_to_recordset`): keys are its column names, the
 * row's own where they are the row's; `ord` keeps the batch's order, `at` is the instant as ISO text.
 */
type IntentInput = Pick<DeliveryRow, 'account_id' | 'trigger_id' | 'rule_id' | 'action_index' | 'attempt' | 'type' | 'provider' | 'idempotency_key' | 'recipient' | 'dedupes'> & {
  ord: number;
  at: string;
};

/** What identifies an intent whose insert may have committed unseen (the remove statement's input). */
type OrphanKey = Pick<IntentInput, 'account_id' | 'trigger_id' | 'action_index' | 'attempt' | 'idempotency_key' | 'at'>;
const orphanKeyOf = (k: OrphanKey) => JSON.stringify([k.account_id, k.trigger_id, k.action_index, k.attempt, k.idempotency_key, k.at]);
const orphanKeyOfDelivery = (d: Delivery) => JSON.stringify([d.accountId, d.triggerId, d.actionIndex, d.attempt, d.idempotencyKey, d.createdAt.toISOString()]);

export interface IntentWriter {
  recordIntents(intents: readonly NewDelivery[]): Promise<Delivery[]>;
  /** Removes the intents of failed batches that may have committed; a failure is logged and tried again later. */
  removeOrphans(): Promise<void>;
  /** The deliveries without the intents of failed batches not removed yet. */
  withoutOrphans(deliveries: Delivery[]): Delivery[];
}

/**
 * Intents as the ledger writes them: one statement per batch, and what a lost reply may have left
 * behind kept track of until it is removed (see the README's Delivery ledger section).
 */
export function createIntentWriter(db: Database, sql: ReturnType<typeof deliveryStatements>, logger: Logger): IntentWriter {
  /**
   * Intents of failed batches whose insert may have committed (the connection was lost before the
   * reply): nothing was sent for them, so they must not be read as sends that may have gone out. They
   * are removed before the next read of a trigger's sends or of stale intents (and before the next
   * insert), and left out of those reads while they cannot be removed.
   */
  const orphans = new Map<string, OrphanKey>();
  const removeOrphans = async (): Promise<void> => {
    if (orphans.size === 0) return;
    const keys = [...orphans.values()];
    try {
      await db.query(sql.removeIntents, [JSON.stringify(keys)]);
      for (const key of keys) orphans.delete(orphanKeyOf(key));
    } catch (error) {
      logger.warn({ error: error instanceof Error ? error.message : String(error), intents: orphans.size }, 'could not remove the intents of a failed batch; will try again before the next read');
    }
  };
  const withoutOrphans = (deliveries: Delivery[]): Delivery[] => (orphans.size === 0 ? deliveries : deliveries.filter((d) => d.state !== 'intent' || !orphans.has(orphanKeyOfDelivery(d))));

  async function recordIntents(intents: readonly NewDelivery[]): Promise<Delivery[]> {
    // All or nothing: one bad value refuses the batch before anything is written.
    const inputs = intents.map((intent, n): IntentInput => ({
      ord: n,
      account_id: requireText(intent.accountId, `intents[${n}].accountId`),
      trigger_id: requireText(intent.triggerId, `intents[${n}].triggerId`),
      rule_id: requireText(intent.ruleId, `intents[${n}].ruleId`),
      action_index: requireInteger(intent.actionIndex, `intents[${n}].actionIndex`),
      attempt: requireInteger(intent.attempt, `intents[${n}].attempt`),
      type: requireText(intent.type, `intents[${n}].type`),
      provider: requireText(intent.provider, `intents[${n}].provider`),
      idempotency_key: requireText(intent.idempotencyKey, `intents[${n}].idempotencyKey`),
      recipient: intent.recipient === undefined ? null : requireText(intent.recipient, `intents[${n}].recipient`),
      dedupes: intent.dedupes === true,
      at: timestampParam(intent.at, `intents[${n}].at`),
    }));
    if (inputs.length === 0) return [];
    await removeOrphans();
    let ids: string[];
    try {
      ids = (await db.query<{ ids: string[] | null }>(sql.insert, [JSON.stringify(inputs)])).rows[0]?.ids ?? [];
    } catch (error) {
      // The caller sends nothing for a batch that failed. A refusal by the server wrote nothing; a lost
      // connection may hide an insert that committed: its intents are removed, now or before the next
      // read (see `orphans`), so that no retry reads them as sends that may have gone out. One that
      // another process reads first (this one died too) is reconciled to `unknown`: held, never resent blindly.
      if (!serverRefused(error)) {
        for (const input of inputs) orphans.set(orphanKeyOf(input), input);
        await removeOrphans();
      }
      // Nothing was sent, so a lost connection is a reason to try again later, not a failed action.
      throw markTransient(error);
    }
    if (ids.length !== inputs.length) throw new AutomationError('CRM_ERR_CONFIG', `postgres ledger: ${ids.length} intents stored of ${inputs.length}`);
    // Identity values increase in insertion order, which is batch order; the statement sorts them.
    return inputs.map((input, n): Delivery => {
      // The instant `at` was validated from (the ISO text holds the same milliseconds).
      const createdAt = new Date((intents[n] as NewDelivery).at.getTime());
      return {
        id: ids[n] as string,
        accountId: input.account_id,
        triggerId: input.trigger_id,
        ruleId: input.rule_id,
        actionIndex: input.action_index,
        attempt: input.attempt,
        type: input.type,
        provider: input.provider,
        idempotencyKey: input.idempotency_key,
        ...(input.recipient === null ? {} : { recipient: input.recipient }),
        state: 'intent',
        dedupes: input.dedupes,
        events: [{ at: new Date(createdAt.getTime()), state: 'intent', source: 'engine' }],
        createdAt,
        updatedAt: new Date(createdAt.getTime()),
      };
    });
  }

  return { recordIntents, removeOrphans, withoutOrphans };
}
