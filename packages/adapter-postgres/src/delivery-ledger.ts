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
  type Page,
  type ReceiptResult,
} from '@crm-automation/core';
import { clampLimit, deliveryRank } from '@crm-automation/core/spi';
import type { Database } from './connection.js';
import { purgeInChunks } from './purge-chunks.js';
import { timestampParam } from './dates.js';
import { ledgerJson, ledgerText, toDelivery, DELIVERY_COLUMNS, type DeliveryRow, type StoredDeliveryEvent } from './delivery-rows.js';
import { deliveryStatements } from './delivery-statements.js';
import { isStoreId } from './ids.js';
import { deliveryPurgeGroups, type ResolvedRetention } from './retention.js';
import { page } from './rule-store.js';
import { createIntentWriter } from './intent-writer.js';
import type { OutcomeWriter } from './outcome-writer.js';
import { markTransient } from './transient-errors.js';

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

/** A limit the server takes as a bigint; beyond what a double holds exactly, there is no limit. */
const rowLimit = (limit: number): number | null => (Number.isFinite(limit) && limit < Number.MAX_SAFE_INTEGER ? Math.ceil(limit) : null);

/** One outcome as the outcome statement reads it (`jsonb_to_recordset`). */
interface OutcomeInput {
  p: number;
  id: string;
  from_states: DeliveryState[];
  state: DeliveryState;
  // Absent keys are NULL to jsonb_to_recordset: an outcome without them sends nothing for them.
  provider?: string;
  provider_id?: string;
  error?: unknown;
  event: StoredDeliveryEvent;
  at: string;
}

/** The ledger's operations on `<schema>.deliveries`, plus its purge for the store's retention. */
export interface LedgerOperations extends Required<DeliveryLedger> {
  /** Deletes the settled deliveries the retention policy no longer keeps; returns how many. */
  purgeDeliveries(now: Date): Promise<number>;
}

/** The delivery ledger in `<schema>.deliveries`: see the README for the statements and the indexes. */
export function deliveryLedgerOn(
  db: Database,
  /** `outcomes`: a writer shared with the trigger store on the same database, so that outcomes share its statements. */
  settings: { logger: Logger; retention: ResolvedRetention | undefined; outcomes?: OutcomeWriter | undefined },
): LedgerOperations {
  const s = `"${db.schema}"`;
  const sql = deliveryStatements(s);
  const { logger, retention } = settings;

  const intents = createIntentWriter(db, sql, logger);

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
      if (settings.outcomes) {
        // Answered by position in the call (`p`), which this round's inputs keep.
        const saved = await settings.outcomes.writeLedger(now, applied.length);
        for (const input of now) if (saved[input.p] === true) applied[input.p] = true;
      } else {
        const { rows } = await db.query<{ moved: number[] | null }>(sql.outcomes, [JSON.stringify(now)]);
        for (const p of rows[0]?.moved ?? []) applied[p] = true;
      }
      pending = later;
    }
  };

  const ops: LedgerOperations = {
    recordIntents: intents.recordIntents,

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
          ...(typeof o.provider === 'string' ? { provider: ledgerText(o.provider) } : {}),
          ...(typeof o.providerId === 'string' ? { provider_id: ledgerText(o.providerId) } : {}),
          ...(o.error === undefined ? {} : { error: ledgerJson(o.error) }),
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
      await intents.removeOrphans();
      const { rows } = await db.query<DeliveryRow>(sql.ofTrigger, [ledgerText(accountId), ledgerText(triggerId)]);
      return intents.withoutOrphans(rows.map(toDelivery));
    },

    async staleIntents(olderThan, limit) {
      const before = timestampParam(olderThan, 'olderThan');
      if (!(limit > 0)) return [];
      await intents.removeOrphans();
      const { rows } = await db.query<DeliveryRow>(sql.stale, [before, rowLimit(limit)]);
      return intents.withoutOrphans(rows.map(toDelivery));
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
        removed += await purgeInChunks(db, 'deliveries', 'state', states, timestampParam(cutoff, 'now'));
      }
      return removed;
    },
  };
  return ops;
}
