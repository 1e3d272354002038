import type { JsonObject, JsonValue } from '../model/json.js';
import type { PathIssue } from '../model/form-fields.js';

/** Wire shapes of the Rules Service API (docs/rules-api.md), as the browser receives them. */

export type TriggerStatus = 'pending' | 'processing' | 'retrying' | 'completed' | 'skipped' | 'failed' | 'cancelled';
export const TRIGGER_STATUSES: readonly TriggerStatus[] = ['pending', 'processing', 'retrying', 'completed', 'skipped', 'failed', 'cancelled'];

export interface Rule {
  id: string;
  accountId: string;
  name: string;
  description?: string;
  enabled: boolean;
  trigger: { eventName: string };
  delay: { value: number; unit: string };
  conditions: JsonObject;
  actions: JsonObject[];
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface RuleStats {
  lastFiredAt: string | null;
  counts: Record<TriggerStatus, number>;
  since: string;
}

export interface EventType {
  name: string;
  description?: string;
  samplePayload?: JsonObject;
}

export interface ErrorSummary {
  code: string;
  message: string;
  retryable?: boolean;
  [key: string]: JsonValue | undefined;
}

export interface ConditionTrace {
  path: string;
  fact: string;
  factPath?: string;
  operator: string;
  value: JsonValue;
  factResult?: JsonValue;
  result: boolean;
  evaluated?: false;
}

export interface ActionCommand {
  type: string;
  params: JsonObject;
  metadata: JsonObject;
}

export interface DryRunCommand {
  index: number;
  type: string;
  command?: ActionCommand;
  error?: ErrorSummary;
}

export interface DryRunOk {
  valid: true;
  eventMatches: boolean;
  enabled: boolean;
  evaluateAt: string;
  matched: boolean;
  conditions: ConditionTrace[];
  commands: DryRunCommand[];
  error?: ErrorSummary;
}

export type DryRunResult = DryRunOk | { valid: false; issues: PathIssue[] };

export type ValidateResult = { valid: true; rule: JsonObject; dryRun?: DryRunResult } | { valid: false; issues: PathIssue[] };

export interface ActionOutcome {
  index: number;
  type: string;
  status: 'sent' | 'already-sent' | 'failed' | 'not-attempted';
  result?: JsonValue;
  error?: ErrorSummary;
  durationMs?: number;
}

export interface HistoryEntry {
  at: string;
  attempt: number;
  outcome: string;
  reason?: string;
  ruleVersion?: number;
  conditions?: ConditionTrace[];
  actions?: ActionOutcome[];
  error?: ErrorSummary;
  nextAttemptAt?: string;
  by?: string;
}

export interface Trigger {
  id: string;
  accountId: string;
  ruleId: string;
  ruleVersion: number;
  status: TriggerStatus;
  evaluateAt: string;
  attempt: number;
  triggeringEvent: { id: string; name: string; timestamp: string; payload: JsonObject };
  executionHistory: HistoryEntry[];
  sentActions: number[];
  createdAt: string;
  updatedAt: string;
}

export interface EventAccepted {
  id: string;
  triggers: Array<{ id: string; ruleId: string; evaluateAt: string; status: TriggerStatus }>;
}

export interface SampleEvent {
  payload: JsonObject;
  name?: string;
  timestamp?: string;
}
