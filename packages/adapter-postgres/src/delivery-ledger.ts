import {
  AutomationError,
  DELIVERY_STATES,
  type Delivery,
  type DeliveryEvent,
  type DeliveryLedger,
  type DeliveryOutcome,
  type DeliveryReceipt,
  type DeliveryState,
  type Logger,
  type NewDelivery,
  type Page,
  type ReceiptResult,
} from '@crm-automation/core';
import { clampLimit, deliveryRank } from '@crm-automation/core/spi';
import type { Database } from './connection.js';
import { timestampParam } from './dates.js';
import { ledgerJson, ledgerText, toDelivery, DELIVERY_COLUMNS, type DeliveryRow, type StoredDeliveryEvent } from './delivery-rows.js';
import { deliveryStatements } from './delivery-statements.js';
import { isStoreId } from './ids.js';
import { deliveryPurgeGroups, type ResolvedRetention } from './retention.js';
import { page } from './rule-store.js';
import { markTransient, serverRefused } from './transient-errors.js';

/** States a receipt may not move: the message never reached the provider, or an operator gave it up. */
const RECEIPT_PROOF: ReadonlySet<DeliveryState> = new Set(['refused', 'abandoned']);
const OUTCOME_STATES: ReadonlySet<string> = new Set(['accepted', 'refused', 'unknown']);
const RECEIPT_STATES: ReadonlySet<string> = new Set(['accepted', 'delivered', 'undelivered', 'bounced', 'failed']);
const KNOWN_STATES: ReadonlySet<string> = new Set(DELIVERY_STATES);
const SOURCES: ReadonlySet<string> = new Set(['engine', 'receipt', 'operator', 'reconcile']);

/** The states a receipt moving to `to` may start from: lower rank, and not refused or abandoned. */
const receiptFrom = (to: DeliveryState) => DELIVERY_STATES.filter((s) => deliveryRank(s) < deliveryRank(to) && !RECEIPT_PROOF.has(s));

/** The states an outcome from `source` moving to `to` may start from (never backwards by rank). */
function outcomeFrom(source: DeliveryEvent['source'], to: DeliveryState): DeliveryState[] {
  const from: readonly DeliveryState[] = source === 'engine' ? ['intent'] : ['intent', 'unknown'];
  return from.filter((s) => deliveryRank(s) <= deliveryRank(to));
}

const eventOf = (at: string, state: DeliveryState, source: DeliveryEvent['source'], detail: unknown): StoredDeliveryEvent => ({
  at,
  state,
  source,
  ...(typeof detail === 'string' ? { detail: ledgerText(detail) } : {}),
});

const optionalString = (value: unknown): value is string | undefined => value === undefined || typeof value === 'string';

/** Rows one purge statement deletes, as the trigger store's purge does. */
const PURGE_CHUNK = 5_000;

/** A limit the server takes as a bigint; beyond what a double holds exactly, there is no limit. */
const rowLimit = (limit: number): number | null => (Number.isFinite(limit) && limit < Number.MAX_SAFE_INTEGER ? Math.ceil(limit) : null);

function requireInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2_147_483_647) throw new AutomationError('CRM_ERR_CONFIG', `${field} must be a non-negative integer, got ${String(value)}`);
  return value;
}

function requireText(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new AutomationError('CRM_ERR_CONFIG', `${field} must be a string, got ${value === null ? 'null' : typeof value}`);
  return ledgerText(value);
}

/** One intent as the insert statement reads it (`json_to_recordset`): keys are its column names. */
interface IntentInput {
  ord: number;
  account_id: string;
  trigger_id: string;
  rule_id: string;
  action_index: number;
  attempt: number;
  type: string;
  provider: string;
  idempotency_key: string;
  recipient: string | null;
  dedupes: boolean;
  at: string;
}

/** What identifies an intent whose insert may have committed unseen (the remove statement's input). */
type OrphanKey = Pick<IntentInput, 'account_id' | 'trigger_id' | 'action_index' | 'attempt' | 'idempotency_key' | 'at'>;
const orphanKeyOf = (k: OrphanKey) => JSON.stringify([k.account_id, k.trigger_id, k.action_index, k.attempt, k.idempotency_key, k.at]);
const orphanKeyOfDelivery = (d: Delivery) => JSON.stringify([d.accountId, d.triggerId, d.actionIndex, d.attempt, d.idempotencyKey, d.createdAt.toISOString()]);

/** One outcome as the outcome statement reads it (`jsonb_to_recordset`). */
interface OutcomeInput {
  p: number;
  id: string;
  from_states: DeliveryState[];
  state: DeliveryState;
  provider: string | null;
  provider_id: string | null;
  error: unknown;
  event: StoredDeliveryEvent;
  at: string;
}

/** The ledger's operations on `<schema>.deliveries`, plus its purge for the store's retention. */
export interface LedgerOperations extends Required<DeliveryLedger> {
  /** Deletes the settled deliveries the retention policy no longer keeps; returns how many. */
  purgeDeliveries(now: Date): Promise<number>;
}

/** The delivery ledger in `<schema>.deliveries`: see the README for the statements and the indexes. */
export function deliveryLedgerOn(db: Database, settings: { logger: Logger; retention: ResolvedRetention | undefined }): LedgerOperations {
  const s = `"${db.schema}"`;
  const sql = deliveryStatements(s);
  const { logger, retention } = settings;

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

  const writeOutcomes = async (inputs: readonly OutcomeInput[], applied: boolean[]): Promise<void> => {
    // An UPDATE writes a row once whatever number of input rows match it: one outcome per delivery per
    // statement, repeats in the next, so that outcomes for one delivery apply in the order given.
    let pending = inputs;
    while (pending.length > 0) {
      const seen = new Set<string>();
      const now: OutcomeInput[] = [];
      const later: OutcomeInput[] = [];
      for (const input of pending) {
        if (seen.has(input.id)) later.push(input);
        else {
          seen.add(input.id);
          now.push(input);
        }
      }
      const { rows } = await db.query<{ p: number }>(sql.outcomes, [JSON.stringify(now)]);
      for (const row of rows) applied[row.p] = true;
      pending = later;
    }
  };

  const ops: LedgerOperations = {
    async recordIntents(intents: readonly NewDelivery[]): Promise<Delivery[]> {
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
        ids = (await db.query<{ id: string }>(sql.insert, [JSON.stringify(inputs)])).rows.map((r) => r.id);
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
      // Identity values increase in insertion order, which is batch order.
      ids.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
      return inputs.map((input, n): Delivery => {
        const createdAt = new Date(input.at);
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
    },

    async recordOutcomes(outcomes: readonly DeliveryOutcome[]): Promise<boolean[]> {
      const inputs: OutcomeInput[] = [];
      outcomes.forEach((o, p) => {
        const at = timestampParam(o.at, `outcomes[${p}].at`);
        if (!OUTCOME_STATES.has(o.state)) throw new AutomationError('CRM_ERR_CONFIG', `outcomes[${p}].state must be accepted, refused or unknown, got ${String(o.state)}`);
        const source = o.source ?? 'engine';
        if (!SOURCES.has(source)) throw new AutomationError('CRM_ERR_CONFIG', `outcomes[${p}].source must be engine, receipt, operator or reconcile, got ${String(source)}`);
        const from = outcomeFrom(source, o.state);
        // An id this ledger could not have issued is answered false without being sent.
        if (!isStoreId(o.id) || from.length === 0) return;
        inputs.push({
          p,
          id: o.id,
          from_states: from,
          state: o.state,
          provider: typeof o.provider === 'string' ? ledgerText(o.provider) : null,
          provider_id: typeof o.providerId === 'string' ? ledgerText(o.providerId) : null,
          error: o.error === undefined ? null : ledgerJson(o.error),
          event: eventOf(at, o.state, source, o.error?.code),
          at,
        });
      });
      const applied = outcomes.map(() => false);
      if (inputs.length > 0) await writeOutcomes(inputs, applied).catch((error: unknown) => Promise.reject(markTransient(error)));
      return applied;
    },

    async applyReceipt(receipt: DeliveryReceipt): Promise<ReceiptResult> {
      const at = timestampParam(receipt.at, 'at');
      if (!RECEIPT_STATES.has(receipt.state)) throw new AutomationError('CRM_ERR_CONFIG', `receipt state must be accepted, delivered, undelivered, bounced or failed, got ${String(receipt.state)}`);
      // Receipt fields come from a provider's request: anything but a string names nothing.
      if (typeof receipt.provider !== 'string' || !optionalString(receipt.providerId) || !optionalString(receipt.deliveryId)) return { applied: false, reason: 'unknown-id' };
      const byId = receipt.deliveryId !== undefined && isStoreId(receipt.deliveryId);
      if (!byId && receipt.providerId === undefined) return { applied: false, reason: 'unknown-id' };
      const providerId = receipt.providerId === undefined ? null : ledgerText(receipt.providerId);
      const from = receiptFrom(receipt.state);
      const values = [byId ? receipt.deliveryId : ledgerText(receipt.provider), providerId, receipt.state, from, at, JSON.stringify(eventOf(at, receipt.state, 'receipt', receipt.detail))];
      // When nothing moved, the row is this statement's snapshot: a concurrent writer may have moved it
      // since, so a delivery that looks movable is tried again (and answered stale after three tries).
      for (let round = 0; ; round++) {
        const { rows } = await db.query<DeliveryRow & { moved: boolean }>(byId ? sql.receiptById : sql.receiptByProviderId, values);
        const row = rows[0];
        if (!row) return { applied: false, reason: 'unknown-id' };
        const delivery = toDelivery(row);
        if (row.moved) return { applied: true, delivery };
        if (byId && providerId !== null && row.provider_id !== null && row.provider_id !== providerId) return { applied: false, reason: 'unknown-id' };
        if (!from.includes(row.state) || round === 2) return { applied: false, reason: 'stale', delivery };
      }
    },

    async getDelivery(accountId, id) {
      if (!isStoreId(id) || typeof accountId !== 'string') return null;
      const { rows } = await db.query<DeliveryRow>(sql.get, [id, ledgerText(accountId)]);
      return rows[0] ? toDelivery(rows[0]) : null;
    },

    async listDeliveries(accountId, filter): Promise<Page<Delivery>> {
      const limit = clampLimit(filter.limit);
      const { triggerId, recipient, provider, providerId } = filter;
      // Filter values may come from a query string: anything but a string matches nothing (as in memory).
      if (typeof accountId !== 'string' || ![triggerId, recipient, provider, providerId].every(optionalString)) return { items: [] };
      const values: unknown[] = [ledgerText(accountId)];
      const where = ['account_id = $1'];
      const param = (value: unknown) => {
        values.push(value);
        return `$${values.length}`;
      };
      if (triggerId !== undefined) where.push(`trigger_id = ${param(ledgerText(triggerId))}`);
      if (recipient !== undefined) where.push(`recipient = ${param(ledgerText(recipient))}`);
      if (provider !== undefined) where.push(`provider = ${param(ledgerText(provider))}`);
      if (providerId !== undefined) where.push(`provider_id = ${param(ledgerText(providerId))}`);
      if (filter.state !== undefined) {
        const states = (Array.isArray(filter.state) ? filter.state : [filter.state]).filter((x) => KNOWN_STATES.has(x));
        if (states.length === 0) return { items: [] };
        where.push(`state = ANY (${param(states)}::text[])`);
      }
      if (filter.cursor !== undefined) {
        if (!isStoreId(filter.cursor)) return { items: [] };
        where.push(`id < ${param(filter.cursor)}::bigint`);
      }
      const { rows } = await db.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM ${s}.deliveries WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ${param(limit + 1)}`, values);
      return page(rows.map(toDelivery), limit);
    },

    async deliveriesOfTrigger(accountId, triggerId) {
      if (typeof accountId !== 'string' || typeof triggerId !== 'string') return [];
      await removeOrphans();
      const { rows } = await db.query<DeliveryRow>(sql.ofTrigger, [ledgerText(accountId), ledgerText(triggerId)]);
      return withoutOrphans(rows.map(toDelivery));
    },

    async staleIntents(olderThan, limit) {
      const before = timestampParam(olderThan, 'olderThan');
      if (!(limit > 0)) return [];
      await removeOrphans();
      const { rows } = await db.query<DeliveryRow>(sql.stale, [before, rowLimit(limit)]);
      return withoutOrphans(rows.map(toDelivery));
    },

    async resolveDelivery(accountId, id, resolution) {
      const at = timestampParam(resolution.at, 'at');
      if (resolution.as !== 'sent' && resolution.as !== 'resend') throw new AutomationError('CRM_ERR_CONFIG', `resolution.as must be sent or resend, got ${String(resolution.as)}`);
      if (!isStoreId(id) || typeof accountId !== 'string') return null;
      const state = resolution.as === 'sent' ? 'accepted' : 'abandoned';
      const detail = `${String(resolution.by)}${resolution.note ? `: ${String(resolution.note)}` : ''}`;
      const values = [id, ledgerText(accountId), state, at, JSON.stringify(eventOf(at, state, 'operator', detail))];
      // As for receipts: a delivery still unknown in the snapshot was moved by a concurrent writer.
      for (let round = 0; ; round++) {
        const { rows } = await db.query<DeliveryRow & { moved: boolean }>(sql.resolve, values);
        const row = rows[0];
        if (!row) return null;
        if (row.moved || row.state !== 'unknown' || round === 2) return toDelivery(row);
      }
    },

    async countDeliveries(accountId, since) {
      const from = timestampParam(since, 'since');
      if (typeof accountId !== 'string') return {};
      const { rows } = await db.query<{ state: DeliveryState; n: number }>(sql.count, [ledgerText(accountId), from]);
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    },

    async purgeDeliveries(now) {
      timestampParam(now, 'now');
      if (!retention) return 0;
      let removed = 0;
      for (const { states, ageMs } of deliveryPurgeGroups(retention)) {
        const cutoff = new Date(now.getTime() - ageMs);
        // A cutoff before the year 1 keeps everything.
        if (cutoff.getUTCFullYear() < 1 || !Number.isFinite(cutoff.getTime())) continue;
        const before = timestampParam(cutoff, 'now');
        // Literal states (from the fixed list in retention.ts), so that the planner matches the partial index of settled deliveries.
        const inList = states.map((x) => `'${x}'`).join(', ');
        const text = `
          WITH doomed AS (
            SELECT id FROM ${s}.deliveries WHERE state IN (${inList}) AND updated_at < $1::timestamptz LIMIT ${PURGE_CHUNK}
          )
          DELETE FROM ${s}.deliveries d
          WHERE d.id = ANY (ARRAY(SELECT id FROM doomed)) AND d.state IN (${inList}) AND d.updated_at < $1::timestamptz`;
        for (;;) {
          const deleted = (await db.query(text, [before])).rowCount ?? 0;
          removed += deleted;
          if (deleted < PURGE_CHUNK) break;
        }
      }
      return removed;
    },
  };
  return ops;
}
