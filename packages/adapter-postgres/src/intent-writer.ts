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

/** Intent inserts one writer has under way at once; the calls made meanwhile share the next one. */
const INSERTS_IN_FLIGHT = 2;

/** Intents one statement carries at most; more wait for the next. */
const MAX_INTENTS_PER_STATEMENT = 2_000;

/** One `recordIntents` call waiting for its statement. */
interface IntentCall {
  intents: readonly NewDelivery[];
  inputs: IntentInput[];
  resolve: (deliveries: Delivery[]) => void;
  reject: (error: unknown) => void;
}

/** A call's deliveries as stored, from its inputs and the ids the statement gave them (in the same order). */
function deliveriesOf(call: IntentCall, ids: readonly string[]): Delivery[] {
  return call.inputs.map((input, n): Delivery => {
    // The instant `at` was validated from (the ISO text holds the same milliseconds).
    const createdAt = new Date((call.intents[n] as NewDelivery).at.getTime());
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

export interface IntentWriter {
  recordIntents(intents: readonly NewDelivery[]): Promise<Delivery[]>;
  /** Removes the intents of failed batches that may have committed; a failure is logged and tried again later. */
  removeOrphans(): Promise<void>;
  /** The deliveries without the intents of failed batches not removed yet. */
  withoutOrphans(deliveries: Delivery[]): Delivery[];
}

/**
 * Intents as the ledger writes them: the calls made while earlier inserts are under way share one
 * statement (each call all or nothing), and what a lost reply may have left behind is kept track of
 * until it is removed (see the README's Delivery ledger section).
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

  /** Validated inputs of one call; throws CRM_ERR_CONFIG for the first bad value (all or nothing). */
  const inputsOf = (intents: readonly NewDelivery[]): IntentInput[] =>
    intents.map((intent, n): IntentInput => ({
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

  /**
   * Calls waiting for a statement: while {@link INSERTS_IN_FLIGHT} inserts are under way, the calls
   * made meanwhile wait and then share the next one (group commit). A wave of 500 sends flushed by
   * core in calls of 32 so costs a few commits instead of sixteen, and under load the batches grow by
   * themselves. Each call still gets its own answer, from a statement sent after it was made.
   */
  let queue: IntentCall[] = [];
  let inFlight = 0;

  /** Writes the calls' intents in one statement and answers each call with its own deliveries. */
  const write = async (calls: readonly IntentCall[]): Promise<void> => {
    const rows: IntentInput[] = [];
    for (const call of calls) for (const input of call.inputs) rows.push(calls.length === 1 ? input : { ...input, ord: rows.length });
    await removeOrphans();
    let ids: string[];
    try {
      ids = (await db.query<{ ids: string[] | null }>(sql.insert, [JSON.stringify(rows)])).rows[0]?.ids ?? [];
    } catch (error) {
      if (calls.length > 1 && serverRefused(error)) {
        // Nothing of the statement was written: each call again on its own, so that a value one call
        // carried fails that call alone.
        for (const call of calls) await write([call]);
        return;
      }
      // The caller sends nothing for a batch that failed. A refusal by the server wrote nothing; a lost
      // connection may hide an insert that committed: its intents are removed, now or before the next
      // read (see `orphans`), so that no retry reads them as sends that may have gone out. One that
      // another process reads first (this one died too) is reconciled to `unknown`: held, never resent blindly.
      if (!serverRefused(error)) {
        for (const input of rows) orphans.set(orphanKeyOf(input), input);
        await removeOrphans();
      }
      // Nothing was sent, so a lost connection is a reason to try again later, not a failed action.
      const failure = markTransient(error);
      for (const call of calls) call.reject(failure);
      return;
    }
    if (ids.length !== rows.length) {
      const error = new AutomationError('CRM_ERR_CONFIG', `postgres ledger: ${ids.length} intents stored of ${rows.length}`);
      for (const call of calls) call.reject(error);
      return;
    }
    // Identity values increase in insertion order, which is statement order; the statement sorts them.
    let next = 0;
    for (const call of calls) {
      const own = ids.slice(next, next + call.inputs.length);
      next += call.inputs.length;
      call.resolve(deliveriesOf(call, own));
    }
  };

  /** The calls of the next statement: in call order, up to the row limit (at least one call). */
  const take = (): IntentCall[] => {
    let rows = 0;
    let count = 0;
    while (count < queue.length) {
      const size = (queue[count] as IntentCall).inputs.length;
      if (count > 0 && rows + size > MAX_INTENTS_PER_STATEMENT) break;
      rows += size;
      count += 1;
    }
    const calls = queue.slice(0, count);
    queue = queue.slice(count);
    return calls;
  };

  const drain = async (): Promise<void> => {
    inFlight += 1;
    try {
      while (queue.length > 0) {
        const calls = take();
        // write() answers every call it carries; what is left here is a bug, not a send to hold.
        await write(calls).catch((error: unknown) => {
          for (const call of calls) call.reject(error);
        });
      }
    } finally {
      inFlight -= 1;
    }
  };

  function recordIntents(intents: readonly NewDelivery[]): Promise<Delivery[]> {
    let inputs: IntentInput[];
    try {
      inputs = inputsOf(intents);
    } catch (error) {
      return Promise.reject(error);
    }
    if (inputs.length === 0) return Promise.resolve([]);
    return new Promise<Delivery[]>((resolve, reject) => {
      queue.push({ intents, inputs, resolve, reject });
      if (inFlight < INSERTS_IN_FLIGHT) void drain();
    });
  }

  return { recordIntents, removeOrphans, withoutOrphans };
}
