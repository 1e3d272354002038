import { AutomationError, EventValidationError, RuleValidationError, VersionConflictError, type ValidationIssue } from '../errors.js';
import { normalizeEvent, type EventTimeWindow } from '../events/event.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { RuleStore } from '../ports/rule-store.js';
import { builtInCommandSchema, dryRunRule, gatewayCommandSchemas, type DryRunContact, type DryRunResult } from '../rules/dry-run.js';
import type { ParamsSchema } from '../ports/gateway.js';
import { normalizedRecipient } from '../actions/contact-points.js';
import { AttemptContactGuard, type ContactPorts } from '../policy/contact-guard.js';
import type { Rule } from '../rules/rule.js';
import { ruleJsonSchema } from '../rules/rule-schema.js';
import { requireAccount } from './account.js';
import type { AutomationEngine, SavedRule } from './engine-api.js';
import type { EngineRuleLanguage } from './engine-validator.js';
import type { EngineObserver } from './observer.js';

export interface RuleAdminContext {
  store: RuleStore;
  language: EngineRuleLanguage;
  clock: Clock;
  logger: Logger;
  observer: EngineObserver;
  eventTimeWindow: EventTimeWindow;
  /** The engine's trigger store can cancel triggers (`cancelTriggers`), or it has none to run rules on. */
  canCancel: boolean;
  /** The contact policy ports, for what a dry run's sends would meet. */
  contact?: ContactPorts | undefined;
  /**
   * The engine's gateways: a dry run checks each rendered command against its gateway's
   * `commandSchema` (else the built-in type's), as a send does, so what every send would refuse is
   * an error of the dry run too. Without it, the built-in schemas only.
   */
  channels?: Readonly<Record<string, { readonly commandSchema?: ParamsSchema | undefined } | undefined>> | undefined;
}

/**
 * `engine.rules`: validated CRUD over the rule store, dry runs and the JSON Schema of rules. Typed for
 * any action type and operator: which ones an engine accepts is decided by `ctx.language` at run time.
 */
export function createRuleAdmin(ctx: RuleAdminContext): AutomationEngine<string, string>['rules'] {
  const { store, clock, logger, observer } = ctx;
  const { validate, operators } = ctx.language;
  let jsonSchema: Record<string, unknown> | undefined;
  const commandSchemaOf = ctx.channels ? gatewayCommandSchemas(ctx.channels) : builtInCommandSchema;

  const validated = (accountId: string, input: unknown) => {
    const result = validate(input);
    const issues: ValidationIssue[] = result.ok ? [] : [...result.issues];
    const claimed = claimedAccount(input);
    if (claimed !== undefined && claimed !== accountId) {
      issues.push({ path: 'accountId', code: 'account_mismatch', message: 'accountId in the rule does not match the account it is saved to' });
    }
    if (!result.ok || issues.length > 0) throw new RuleValidationError(issues);
    if (!ctx.canCancel && result.rule.cancelOn && result.rule.cancelOn.length > 0) {
      throw new AutomationError('CRM_ERR_CONFIG', 'this rule has cancelOn, but the engine\'s trigger store cannot cancel triggers (it has no cancelTriggers); use a store that can, or remove cancelOn');
    }
    return { draft: result.rule, warnings: result.warnings };
  };

  /** The saved rule, with the save's warnings attached (never stored). */
  const withWarnings = (rule: Rule, warnings: ValidationIssue[] | undefined, accountId: string): SavedRule => {
    if (!warnings || warnings.length === 0) return rule;
    logger.warn({ accountId, ruleId: rule.id, warnings }, 'rule saved with warnings');
    return { ...rule, warnings };
  };

  return {
    async create(accountId, input) {
      const { draft, warnings } = validated(requireAccount(accountId), input);
      const rule = await store.insertRule(accountId, draft, clock.now());
      logger.info({ accountId, ruleId: rule.id }, 'rule created');
      observer.emit('rule:changed', { accountId, ruleId: rule.id, rule });
      return withWarnings(rule, warnings, accountId);
    },
    get: (accountId, id) => store.getRule(requireAccount(accountId), id),
    async update(accountId, id, input, options = {}) {
      const { draft, warnings } = validated(requireAccount(accountId), input);
      const result = await store.replaceRule(accountId, id, draft, { now: clock.now(), expectedVersion: options.expectedVersion });
      if (result.ok) {
        logger.info({ accountId, ruleId: id, version: result.rule.version }, 'rule updated');
        observer.emit('rule:changed', { accountId, ruleId: id, rule: result.rule });
        return withWarnings(result.rule, warnings, accountId);
      }
      if (result.reason === 'not-found') return null;
      throw new VersionConflictError(id, options.expectedVersion ?? 0, result.currentVersion);
    },
    async delete(accountId, id) {
      const deleted = await store.deleteRule(requireAccount(accountId), id);
      if (deleted) {
        logger.info({ accountId, ruleId: id }, 'rule deleted');
        observer.emit('rule:changed', { accountId, ruleId: id, rule: null });
      }
      return deleted;
    },
    list: (accountId, filter = {}) => store.listRules(requireAccount(accountId), filter),
    validate: (input) => validate(input),
    jsonSchema: () => (jsonSchema ??= ruleJsonSchema(validate)),
    async dryRun(accountId, input, sample) {
      requireAccount(accountId);
      const now = clock.now();
      let rule: Rule | null;
      if (typeof input === 'string') {
        rule = await store.getRule(accountId, input);
        if (!rule) return null;
      } else {
        const result = validate(input);
        if (!result.ok) return { valid: false, issues: result.issues };
        rule = { ...result.rule, id: 'unsaved', accountId, version: 0, createdAt: now, updatedAt: now };
      }
      // The sample is an event like any other: same shape, size and time checks (EventValidationError).
      const event = normalizeEvent({ name: sample?.name ?? rule.trigger.eventName, accountId, payload: sample?.payload, timestamp: sample?.timestamp }, now, ctx.eventTimeWindow);
      const current = sample?.current === undefined ? undefined : checkedCurrentSample(sample.current, accountId, now);
      const result = await dryRunRule(rule, { name: event.name, payload: event.payload, timestamp: event.timestamp, ...(current ? { current } : {}) }, now, operators, commandSchemaOf);
      return ctx.contact ? withContactPolicy(result, rule, event.payload, ctx.contact, logger) : result;
    },
  };
}

/** The dry run's current-state sample passes the same shape and size checks as an event payload, reported at `current`. */
function checkedCurrentSample(current: unknown, accountId: string, now: Date): Record<string, unknown> {
  try {
    return normalizeEvent({ name: 'dry-run.current', accountId, payload: current, timestamp: now }, now).payload;
  } catch (error) {
    if (error instanceof EventValidationError) throw new EventValidationError(error.issues.map((i) => ({ ...i, path: i.path.replace(/^payload/, 'current'), message: i.message.replace(/^payload/, 'current') })));
    throw error;
  }
}

/** The dry run's commands with what the contact policy would do to each at the run's due time. */
async function withContactPolicy(result: DryRunResult, rule: Rule, payload: Record<string, unknown>, contact: ContactPorts, logger: Logger): Promise<DryRunResult> {
  if (!result.valid || result.commands.length === 0) return result;
  const guard = new AttemptContactGuard(contact, rule.accountId, 'dry-run', payload, logger);
  const commands = [];
  for (const command of result.commands) {
    const sent = command.command;
    const recipient = sent ? normalizedRecipient(sent.type, sent.params) : undefined;
    if (!sent) {
      commands.push(command);
      continue;
    }
    const decision = await guard.check(sent.type, recipient, rule.actions[command.index]?.category, `dry-run:${command.index}`, result.evaluateAt, true);
    let policy: DryRunContact | undefined;
    if (decision.kind === 'skip' && decision.reason === 'suppressed') policy = { outcome: 'skipped', reason: 'suppressed' };
    else if (decision.kind === 'defer' && decision.reason === 'quiet-hours') policy = { outcome: 'deferred', reason: 'quiet-hours', until: decision.until };
    else if (decision.kind === 'send' && decision.counted) policy = { outcome: 'counted', caps: decision.counted.map((c) => ({ max: c.max, per: c.per })) };
    commands.push(policy ? { ...command, contactPolicy: policy } : command);
  }
  return { ...result, commands };
}

/**
 * The document's own accountId, read after validation: a document the validator refused as not JSON
 * (a revoked Proxy, a throwing getter) must not throw an untyped error from this one read.
 */
function claimedAccount(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return undefined;
  try {
    return (input as { accountId?: unknown }).accountId;
  } catch {
    return undefined;
  }
}
