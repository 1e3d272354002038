/** Units a rule delay may be expressed in. */
export type DelayUnit = 'seconds' | 'minutes' | 'hours' | 'days';

export interface RuleDelay {
  value: number;
  unit: DelayUnit;
}

/** A json-rules-engine leaf condition: compare a fact (optionally at a JSONPath) with a value. */
export interface LeafCondition {
  fact: string;
  operator: string;
  value: unknown;
  path?: string | undefined;
  params?: Record<string, unknown> | undefined;
  name?: string | undefined;
  priority?: number | undefined;
}

export type NestedCondition = LeafCondition | ConditionGroup;

/** A json-rules-engine boolean group: `all`, `any` or `not`. */
export type ConditionGroup =
  | { all: NestedCondition[]; name?: string | undefined; priority?: number | undefined }
  | { any: NestedCondition[]; name?: string | undefined; priority?: number | undefined }
  | { not: NestedCondition; name?: string | undefined; priority?: number | undefined };

/** A value taken from the triggering event at send time. */
export interface FactReference {
  source: 'fact';
  fact: string;
  path?: string | undefined;
}

export type Recipient = string | FactReference;

export interface SmsParams {
  recipient: Recipient;
  message: string;
}

export interface EmailParams {
  recipient: Recipient;
  subject: string;
  body?: string | undefined;
  html?: string | undefined;
  templateId?: string | undefined;
}

export interface WebhookParams {
  url: string;
  method?: 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'GET' | undefined;
  headers?: Record<string, string> | undefined;
  payload?: unknown;
}

export type RuleAction =
  | { type: 'sms'; params: SmsParams }
  | { type: 'email'; params: EmailParams }
  | { type: 'webhook'; params: WebhookParams }
  | { type: string; params: Record<string, unknown> };

/** What a user writes: the design doc's rule document without id, account and timestamps. */
export interface RuleInput {
  name: string;
  description?: string | undefined;
  enabled?: boolean | undefined;
  trigger: { eventName: string };
  delay?: RuleDelay | undefined;
  conditions: ConditionGroup;
  actions: RuleAction[];
}

/** A stored rule: the input after validation and defaults, plus what the store assigns. */
export interface Rule {
  id: string;
  accountId: string;
  name: string;
  description?: string | undefined;
  enabled: boolean;
  trigger: { eventName: string };
  delay: RuleDelay;
  conditions: ConditionGroup;
  actions: RuleAction[];
  /** Starts at 1 and grows by one on every update. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A validated rule before the store gives it an id and timestamps. */
export type RuleDraft = Omit<Rule, 'id' | 'accountId' | 'version' | 'createdAt' | 'updatedAt'>;

export interface RuleFilter {
  eventName?: string | undefined;
  enabled?: boolean | undefined;
  /** Page size; defaults to 50, at most 500. */
  limit?: number | undefined;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Present when more items follow; pass it back as `cursor`. */
  nextCursor?: string | undefined;
}

const UNIT_MS: Record<DelayUnit, number> = {
  seconds: 1_000,
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
};

export function delayToMs(delay: RuleDelay): number {
  return delay.value * UNIT_MS[delay.unit];
}

export function isConditionGroup(condition: NestedCondition): condition is ConditionGroup {
  return 'all' in condition || 'any' in condition || 'not' in condition;
}
