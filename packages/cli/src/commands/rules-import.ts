import { asUntrustedRule, type AutomationEngine, type Rule, type ValidationIssue } from '@crm-automation/core';
import { CliError } from '../cli-error.js';
import type { Output } from '../output.js';
import { canonicalJson, ruleContent, RULES_FILE_FORMAT } from '../rules-file.js';
import { allRules } from './rules-export.js';

export type ImportAction = 'create' | 'update' | 'unchanged';

export interface ImportPlanEntry {
  /** Position in the file's `rules`. */
  index: number;
  name: string;
  action: ImportAction;
  /** The existing rule updated or left alone; the new id after a create. */
  ruleId?: string | undefined;
  /** How the entry was matched to an existing rule: its `id` (same account), else its unique `name`. */
  matchedBy?: 'id' | 'name' | undefined;
}

export interface ImportResult {
  dryRun: boolean;
  entries: ImportPlanEntry[];
  created: number;
  updated: number;
  unchanged: number;
}

/** Fields a rules file may carry that belong to where it came from, not to the rule's content. */
const PROVENANCE = ['id', 'accountId', 'version', 'createdAt', 'updatedAt'] as const;

function isZeroDelay(delay: unknown): boolean {
  return typeof delay === 'object' && delay !== null && (delay as Record<string, unknown>)['value'] === 0;
}

/**
 * The rules of a rules file, of the Rules API's list answer (`GET /rules`: `{ "items": [...] }`, saved
 * as it came) or of a bare array, with the file-level problems found.
 */
export function rulesOf(file: unknown): { entries: unknown[]; issues: ValidationIssue[]; warnings?: string[] } {
  if (Array.isArray(file)) return { entries: file, issues: [] };
  if (typeof file === 'object' && file !== null) {
    const { format, rules, items, nextCursor } = file as { format?: unknown; rules?: unknown; items?: unknown; nextCursor?: unknown };
    if (format !== undefined && format !== RULES_FILE_FORMAT) {
      return { entries: [], issues: [{ path: 'format', code: 'unknown_format', message: `expected "${RULES_FILE_FORMAT}", got ${JSON.stringify(format)}` }] };
    }
    if (Array.isArray(rules)) return { entries: rules, issues: [] };
    if (format === undefined && rules === undefined && Array.isArray(items)) {
      // A saved page of a longer list would import part of the account's rules without a word.
      const warnings = typeof nextCursor === 'string' ? ['the file is one page of GET /rules (it has a nextCursor): rules on later pages are not in it; `crm-automation rules export` writes every rule'] : [];
      return { entries: items, issues: [], warnings };
    }
  }
  return {
    entries: [],
    issues: [{ path: 'rules', code: 'invalid_type', message: 'a rules file is { "format": "crm-automation/rules", "rules": [...] }, the Rules API\'s { "items": [...] } or an array of rules' }],
  };
}

/**
 * Imports a rules file into an account, idempotently. Every rule is validated with the engine's
 * validator first; any problem (with its path, `rules[2].actions[0].params.url`) aborts the whole
 * import before anything is written. Each rule is matched to an existing one by its `id` when that
 * id exists in this account (re-importing an export), otherwise by its name, which must then be
 * unique in the account; a match whose content is identical is left alone, so importing the same
 * file twice changes nothing the second time. Updates are guarded by the version read, so a rule
 * edited meanwhile fails the import (CRM_ERR_VERSION_CONFLICT) rather than being overwritten.
 */
export async function importRules(
  engine: Pick<AutomationEngine, 'rules'>,
  accountId: string,
  file: unknown,
  options: { dryRun?: boolean | undefined } = {},
  output?: Output,
): Promise<ImportResult> {
  const { entries, issues, warnings = [] } = rulesOf(file);
  for (const warning of warnings) output?.err(`warning: ${warning}`);
  const existing = await allRules(engine, accountId);
  const byId = new Map(existing.map((r) => [r.id, r]));
  const byName = new Map<string, Rule[]>();
  for (const rule of existing) byName.set(rule.name, [...(byName.get(rule.name) ?? []), rule]);

  const plan: Array<ImportPlanEntry & { input: Record<string, unknown>; current?: Rule | undefined }> = [];
  const names = new Map<string, number>();
  const claimed = new Map<string, number>();
  entries.forEach((raw, index) => {
    const at = `rules[${index}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      issues.push({ path: at, code: 'invalid_type', message: 'a rule must be an object' });
      return;
    }
    const input = { ...(raw as Record<string, unknown>) };
    const fileId = typeof input['id'] === 'string' ? input['id'] : undefined;
    for (const key of PROVENANCE) delete input[key];
    // The Rules API answers a scheduled rule with the zero delay the engine stores for it; that delay is
    // the engine's, not a second timing beside the schedule (which validation would refuse).
    if (input['schedule'] !== undefined && isZeroDelay(input['delay'])) delete input['delay'];
    const checked = engine.rules.validate(input);
    if (!checked.ok) {
      for (const issue of checked.issues) issues.push({ ...issue, path: issue.path ? `${at}.${issue.path}` : at });
      return;
    }
    const name = checked.rule.name;
    const first = names.get(name);
    if (first !== undefined) {
      issues.push({ path: `${at}.name`, code: 'duplicate_name', message: `rules[${first}] has the same name ${JSON.stringify(name)}` });
      return;
    }
    names.set(name, index);

    let current: Rule | undefined;
    let matchedBy: 'id' | 'name' | undefined;
    if (fileId !== undefined && byId.has(fileId)) {
      current = byId.get(fileId);
      matchedBy = 'id';
    } else {
      const sameName = byName.get(name) ?? [];
      if (sameName.length > 1) {
        issues.push({ path: `${at}.name`, code: 'ambiguous_name', message: `${sameName.length} rules in account ${accountId} are named ${JSON.stringify(name)}; give the rule's id to say which` });
        return;
      }
      current = sameName[0];
      if (current) matchedBy = 'name';
    }
    if (current) {
      const other = claimed.get(current.id);
      if (other !== undefined) {
        issues.push({ path: at, code: 'duplicate_match', message: `rules[${other}] already matches existing rule ${current.id}` });
        return;
      }
      claimed.set(current.id, index);
    }
    const action: ImportAction = !current ? 'create' : canonicalJson(ruleContent(checked.rule)) === canonicalJson(ruleContent(current)) ? 'unchanged' : 'update';
    plan.push({ index, name, action, ...(current ? { ruleId: current.id, matchedBy, current } : {}), input });
  });

  if (issues.length > 0) {
    throw new CliError('CRM_ERR_CLI_IMPORT_INVALID', `the rules file has ${issues.length} problem${issues.length === 1 ? '' : 's'}; nothing was imported`, issues);
  }

  const result: ImportResult = { dryRun: options.dryRun ?? false, entries: [], created: 0, updated: 0, unchanged: 0 };
  const writes = plan.filter((p) => p.action !== 'unchanged').length;
  const progress = options.dryRun ? undefined : output?.progress('importing', writes);
  try {
    for (const { input, current, ...entry } of plan) {
      if (!options.dryRun && entry.action === 'create') {
        entry.ruleId = (await engine.rules.create(accountId, asUntrustedRule(input))).id;
        progress?.tick();
      } else if (!options.dryRun && entry.action === 'update' && current) {
        await engine.rules.update(accountId, current.id, asUntrustedRule(input), { expectedVersion: current.version });
        progress?.tick();
      }
      result[entry.action === 'create' ? 'created' : entry.action === 'update' ? 'updated' : 'unchanged'] += 1;
      result.entries.push(entry);
    }
  } finally {
    progress?.done();
  }
  return result;
}

/** What an offline dry run found: every rule of the file valid, not compared with any account's rules. */
export interface RulesFileCheck {
  dryRun: true;
  /** No store was given: the file was validated by an engine over an empty in-memory store. */
  offline: true;
  valid: number;
  entries: Array<{ index: number; name: string }>;
}

/**
 * Validates a rules file with no store at all: `engine` is an engine over an empty memory store (with
 * the CLI's action types and webhook policy), so every check of {@link importRules} that needs no
 * account's rules runs (each rule's validation, names unique within the file), and nothing is written
 * anywhere. Throws the same `CRM_ERR_CLI_IMPORT_INVALID` as an import.
 */
export async function checkRulesFile(engine: Pick<AutomationEngine, 'rules'>, file: unknown, output?: Output): Promise<RulesFileCheck> {
  const planned = await importRules(engine, 'offline-check', file, { dryRun: true }, output);
  return { dryRun: true, offline: true, valid: planned.entries.length, entries: planned.entries.map(({ index, name }) => ({ index, name })) };
}

export function printRulesFileCheck(output: Output, check: RulesFileCheck, accountId: string): void {
  if (output.json) return output.out(JSON.stringify(check, null, 2));
  for (const e of check.entries) output.out(`${'valid'.padEnd(12)} ${JSON.stringify(e.name)}`);
  output.out(
    `dry run, offline: ${check.valid} rule${check.valid === 1 ? '' : 's'} valid; not compared with the rules of ${accountId} (no store given: set MONGODB_URI or POSTGRES_URL to see what would be created or updated)`,
  );
}

export function printImport(output: Output, result: ImportResult): void {
  if (output.json) return output.out(JSON.stringify(result, null, 2));
  const verb = (action: ImportAction) => (result.dryRun ? { create: 'would create', update: 'would update', unchanged: 'unchanged' } : { create: 'created', update: 'updated', unchanged: 'unchanged' })[action];
  for (const e of result.entries) {
    output.out(`${verb(e.action).padEnd(12)} ${JSON.stringify(e.name)}${e.ruleId ? ` (${e.ruleId}${e.matchedBy ? `, matched by ${e.matchedBy}` : ''})` : ''}`);
  }
  const summary = `${result.created} ${result.dryRun ? 'to create' : 'created'}, ${result.updated} ${result.dryRun ? 'to update' : 'updated'}, ${result.unchanged} unchanged`;
  output.out(result.dryRun ? `dry run: ${summary}; run again without --dry-run to apply` : summary);
}
