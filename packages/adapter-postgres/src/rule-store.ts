import { clampLimit, RuleValidationError, type Page, type Rule, type RuleDraft, type RuleFilter, type RuleReplaceResult, type RuleStore } from '@crm-automation/core';
import { isDataException, statement, storableText, type Database } from './connection.js';
import { isStoreId } from './ids.js';
import { RULE_COLUMNS, toRule, type RuleRow } from './rows.js';
import { timestampParam } from './dates.js';
import { tickBatch } from './tick-batch.js';

/** Rules in `<schema>.rules`: documents (conditions, actions) as JSONB, the fields queries match on as columns. */
export function ruleStoreOn(db: Database): RuleStore {
  const s = `"${db.schema}"`;
  const sql = {
    insert: statement(`
      INSERT INTO ${s}.rules (account_id, name, description, enabled, event_name, delay_value, delay_unit, conditions, actions, trigger_key, cancel_on, concurrency, evaluate, cancel_event_keys, version, created_at, updated_at, schedule)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11::jsonb, $12::jsonb, $13::jsonb, ${cancelEventKeys('$1', '$14')}, 1, $15::timestamptz, $15::timestamptz, $16::jsonb)
      RETURNING ${RULE_COLUMNS}`),
    getMany: statement(`SELECT ${RULE_COLUMNS} FROM ${s}.rules WHERE id = ANY($1::bigint[])`),
    replace: statement(`
      UPDATE ${s}.rules
      SET name = $3, description = $4, enabled = $5, event_name = $6, delay_value = $7, delay_unit = $8,
          conditions = $9::jsonb, actions = $10::jsonb, trigger_key = $11, cancel_on = $12::jsonb, concurrency = $13::jsonb,
          evaluate = $14::jsonb, cancel_event_keys = ${cancelEventKeys('$2', '$15')}, version = version + 1, updated_at = $16::timestamptz,
          schedule = $18::jsonb
      WHERE id = $1::bigint AND account_id = $2 AND ($17::integer IS NULL OR version = $17::integer)
      RETURNING ${RULE_COLUMNS}`),
    version: statement(`SELECT version FROM ${s}.rules WHERE id = $1::bigint AND account_id = $2`),
    delete: statement(`DELETE FROM ${s}.rules WHERE id = $1::bigint AND account_id = $2`),
    // The rules an event starts (by trigger name) and those it may cancel (by cancelOn name, through
    // the GIN index of cancel_event_keys), each row with the name it was found for.
    forEvents: statement(`
      WITH wanted AS (SELECT * FROM unnest($1::text[], $2::text[]) AS w(account_id, event_name))
      SELECT ${RULE_COLUMNS}, event_name AS found_for FROM ${s}.rules
      WHERE (account_id, event_name) IN (SELECT account_id, event_name FROM wanted) AND enabled
      UNION ALL
      SELECT ${RULE_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}, w.event_name FROM wanted w
      JOIN ${s}.rules r ON r.cancel_event_keys @> ARRAY[w.account_id || ':' || w.event_name] AND r.account_id = w.account_id AND r.enabled`),
  };

  const draftValues = (draft: RuleDraft) => [
    draft.name,
    draft.description ?? null,
    draft.enabled,
    draft.trigger.eventName,
    draft.delay.value,
    draft.delay.unit,
    JSON.stringify(draft.conditions),
    JSON.stringify(draft.actions),
    draft.trigger.key ?? null,
    draft.cancelOn === undefined ? null : JSON.stringify(draft.cancelOn),
    draft.concurrency === undefined ? null : JSON.stringify(draft.concurrency),
    draft.evaluate === undefined ? null : JSON.stringify(draft.evaluate),
    (draft.cancelOn ?? []).map((entry) => entry.eventName),
  ];

  // Last of both statements' parameters: the column came with a later migration.
  const scheduleValue = (draft: RuleDraft) => (draft.schedule === undefined ? null : JSON.stringify(draft.schedule));

  /** A rule PostgreSQL cannot hold (U+0000 in a string, say) is an invalid rule, not a driver error. */
  const unstorable = (error: unknown): unknown =>
    isDataException(error) ? new RuleValidationError([{ path: '', code: 'unstorable', message: `PostgreSQL cannot store this rule: ${(error as Error).message}` }]) : error;

  const owned = (accountId: string, id: string) => isStoreId(id) && storableText(accountId);

  // Concurrent ingests (a bus consumer's prefetch) look their rules up together.
  const eventKey = (accountId: string, eventName: string) => `${accountId}\u0000${eventName}`;
  const loadRulesForEvent = tickBatch<string, RuleRow[]>(async (keys) => {
    const pairs = keys.map((k) => k.split('\u0000') as [string, string]);
    const { rows } = await db.query<RuleRow & { found_for: string }>(sql.forEvents, [pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
    const found = new Map<string, RuleRow[]>();
    const seen = new Set<string>();
    for (const row of rows) {
      const key = eventKey(row.account_id, row.found_for);
      // A rule that both starts and cancels on the name is found twice.
      if (seen.has(`${key}\u0000${row.id}`)) continue;
      seen.add(`${key}\u0000${row.id}`);
      const list = found.get(key);
      if (list) list.push(row);
      else found.set(key, [row]);
    }
    for (const list of found.values()) list.sort((a, b) => Number(a.id) - Number(b.id));
    return found;
  });

  // The claim loop reads each trigger's rule as it starts: read those of one turn together.
  const loadRule = tickBatch<string, RuleRow>(async (ids) => {
    const { rows } = await db.query<RuleRow>(sql.getMany, [ids]);
    return new Map(rows.map((row) => [row.id, row]));
  });

  return {
    capabilities: { name: 'postgres' },

    async insertRule(accountId, draft, now) {
      const at = timestampParam(now, 'now');
      const { rows } = await db.query<RuleRow>(sql.insert, [accountId, ...draftValues(draft), at, scheduleValue(draft)]).catch((error: unknown) => Promise.reject(unstorable(error)));
      return toRule(rows[0] as RuleRow);
    },

    async getRule(accountId, id) {
      if (!owned(accountId, id)) return null;
      const row = await loadRule(id);
      return row && row.account_id === accountId ? toRule(row) : null;
    },

    async replaceRule(accountId, id, draft, { now, expectedVersion }): Promise<RuleReplaceResult> {
      if (!owned(accountId, id)) return { ok: false, reason: 'not-found' };
      const at = timestampParam(now, 'now');
      const { rows } = await db
        .query<RuleRow>(sql.replace, [id, accountId, ...draftValues(draft), at, expectedVersion ?? null, scheduleValue(draft)])
        .catch((error: unknown) => Promise.reject(unstorable(error)));
      if (rows[0]) return { ok: true, rule: toRule(rows[0]) };
      // A statement of its own: it sees the version a concurrent writer committed, which the
      // refused update waited for.
      const current = await db.query<{ version: number }>(sql.version, [id, accountId]);
      const version = current.rows[0]?.version;
      return version === undefined ? { ok: false, reason: 'not-found' } : { ok: false, reason: 'conflict', currentVersion: version };
    },

    async deleteRule(accountId, id) {
      if (!owned(accountId, id)) return false;
      return ((await db.query(sql.delete, [id, accountId])).rowCount ?? 0) === 1;
    },

    async listRules(accountId, filter: RuleFilter): Promise<Page<Rule>> {
      const limit = clampLimit(filter.limit);
      if (!storableText(accountId)) return { items: [] };
      const values: unknown[] = [accountId];
      const where = ['account_id = $1'];
      if (filter.eventName !== undefined) {
        if (!storableText(filter.eventName)) return { items: [] };
        values.push(filter.eventName);
        where.push(`event_name = $${values.length}`);
      }
      if (filter.enabled !== undefined) {
        values.push(filter.enabled === true);
        where.push(`enabled = $${values.length}`);
      }
      if (filter.cursor !== undefined) {
        if (!isStoreId(filter.cursor)) return { items: [] };
        values.push(filter.cursor);
        where.push(`id > $${values.length}::bigint`);
      }
      values.push(limit + 1);
      const { rows } = await db.query<RuleRow>(`SELECT ${RULE_COLUMNS} FROM ${s}.rules WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${values.length}`, values);
      return page(rows.map(toRule), limit);
    },

    async findRulesForEvent(accountId, eventName) {
      if (!storableText(accountId) || !storableText(eventName)) return [];
      return ((await loadRulesForEvent(eventKey(accountId, eventName))) ?? []).map(toRule);
    },
  };
}

/** The elements of `cancel_event_keys` for an account (`account`, SQL) and its cancelOn names (`names`, a text[] parameter). */
function cancelEventKeys(account: string, names: string): string {
  return `ARRAY(SELECT DISTINCT ${account}::text || ':' || n FROM unnest(${names}::text[]) AS n ORDER BY 1)`;
}

export function page<T extends { id: string }>(items: T[], limit: number): Page<T> {
  if (items.length <= limit) return { items };
  const shown = items.slice(0, limit);
  const last = shown[shown.length - 1];
  return last ? { items: shown, nextCursor: last.id } : { items: shown };
}
