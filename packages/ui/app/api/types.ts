import type { components, operations } from '../api-types.js';
import type { JsonValue } from '../model/json.js';

/*
 * Wire shapes of the Rules Service API, named for the app. Each is taken from app/api-types.ts, which is
 * generated from the OpenAPI document the server serves (`npm run generate:api-types`), so a change of
 * the server's schemas shows up here as a type error instead of a silent drift.
 */

/**
 * A body as the browser holds it after `response.json()`: what the document leaves open (`unknown`:
 * payloads, condition values, rendered params) is a JSON value, since it came as JSON text.
 */
export type AsJson<T> = unknown extends T ? JsonValue : T extends readonly (infer I)[] ? AsJson<I>[] : T extends object ? { [K in keyof T]: AsJson<T[K]> } : T;

type JsonContent<R> = R extends { content: { 'application/json': infer B } } ? AsJson<B> : never;

/** The JSON body of operation `O`'s answer with status `S`. */
export type ResponseBody<O extends keyof operations, S extends keyof operations[O]['responses']> = JsonContent<operations[O]['responses'][S]>;

/** The JSON body operation `O` takes. */
export type RequestBody<O extends keyof operations> = JsonContent<NonNullable<operations[O]['requestBody']>>;

export type Rule = ResponseBody<'getRulesId', 200>;
export type SavedRule = ResponseBody<'postRules', 201>;
export type RulePage = ResponseBody<'getRules', 200>;
export type RuleStats = ResponseBody<'getRulesIdStats', 200>;
export type EventType = ResponseBody<'getEventTypes', 200>['items'][number];

export type ValidateResult = ResponseBody<'postRulesValidate', 200>;
export type DryRunResult = ResponseBody<'postRulesIdTest', 200>;
export type DryRunOk = Extract<DryRunResult, { valid: true }>;
export type ConditionTrace = DryRunOk['conditions'][number];
export type DryRunCommand = DryRunOk['commands'][number];
export type ActionCommand = NonNullable<DryRunCommand['command']>;
/** A failure as the API reports it inside a result (a dry run's, a run's): stable code and message. */
export type ErrorSummary = NonNullable<DryRunOk['error']>;
/** The dry-run body of `POST /rules/:id/test`, and `sample` of `POST /rules/validate`. */
export type SampleEvent = RequestBody<'postRulesIdTest'>;

export type Trigger = ResponseBody<'getTriggersId', 200>;
export type TriggerPage = ResponseBody<'getTriggers', 200>;
export type TriggerStatus = Trigger['status'];
export type HistoryEntry = Trigger['executionHistory'][number];
export type ActionOutcome = NonNullable<HistoryEntry['actions']>[number];

/** One send of one action in one attempt of a run, from the engine's intent to the provider's last receipt. */
export type Delivery = ResponseBody<'getDeliveriesId', 200>;
export type DeliveryState = Delivery['state'];
export type DeliveryEvent = Delivery['events'][number];
export type TriggerDeliveries = ResponseBody<'getTriggersIdDeliveries', 200>;
export type DeliveryPage = ResponseBody<'getDeliveries', 200>;
export type DeliveryResolution = RequestBody<'postDeliveriesIdResolve'>;

export type PublishedEvent = RequestBody<'postEvents'>;
export type EventAccepted = ResponseBody<'postEvents', 202>;

/** The statuses in the order the filters offer them; a test checks it against the engine's list. */
export const TRIGGER_STATUSES = ['pending', 'processing', 'retrying', 'completed', 'skipped', 'failed', 'cancelled'] as const satisfies readonly TriggerStatus[];
/** The delivery states in the order a send goes through them; a test checks it against the engine's list. */
export const DELIVERY_STATES = ['intent', 'accepted', 'refused', 'unknown', 'delivered', 'undelivered', 'bounced', 'failed', 'abandoned'] as const satisfies readonly DeliveryState[];

/** How a scheduled rule's run got its due time: the recipient's zone, the local time, the notes. */
export type TriggerSchedule = NonNullable<Trigger['schedule']>;
export type ScheduleNote = TriggerSchedule['notes'][number];
/** A scheduled rule's due time for a dry run's sample: scheduled (local, UTC) or skipped (reason). */
export type DryRunSchedule = NonNullable<DryRunOk['schedule']>;

/** The account's contact policy as `GET /contact-policy` answers it (version 0 before one is set). */
export type ContactPolicy = ResponseBody<'getContactPolicy', 200>;
/** What `PUT /contact-policy` takes: `{ channels }` (the read fields may be sent back). */
export type ContactPolicyDocument = RequestBody<'putContactPolicy'>;
export type ChannelPolicy = NonNullable<ContactPolicy['channels'][string]>;

export type SuppressionPage = ResponseBody<'getSuppressions', 200>;
export type Suppression = SuppressionPage['items'][number];
export type SuppressionReason = Suppression['reason'];
export type SuppressionSource = Suppression['source'];
export type SuppressionLookup = ResponseBody<'getSuppressionsChannelRecipient', 200>;
export type SuppressionAdded = ResponseBody<'putSuppressionsChannelRecipient', 201>;
export type SuppressionRemoved = ResponseBody<'deleteSuppressionsChannelRecipient', 200>;
export type SuppressionChangePage = ResponseBody<'getSuppressionsChanges', 200>;
export type SuppressionChange = SuppressionChangePage['items'][number];
/** What `PUT /suppressions/:channel/:recipient` takes: a reason, a note and the interface it came from. */
export type SuppressionEntry = RequestBody<'putSuppressionsChannelRecipient'>;
/** The interfaces a client may name for a change by hand (`api` when it names none). */
export type ManualChangeSource = NonNullable<SuppressionEntry['source']>;

/** What the contact policy would do to one dry-run command at the run's due time. */
export type DryRunContactPolicy = NonNullable<DryRunCommand['contactPolicy']>;
/** An action's category: `marketing` when absent (held to quiet hours and caps). */
export type MessageCategory = NonNullable<components['schemas']['Action']['category']>;

/** The suppression reasons in the order the screens list them; a test checks it against the engine's list. */
export const SUPPRESSION_REASONS = ['stop', 'unsubscribe', 'bounce', 'spam-report', 'provider-opt-out', 'manual'] as const satisfies readonly SuppressionReason[];
