import { AutomationError, checkOptions, optionKeys } from '@crm-automation/core';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds buckets from 5 ms to 10 minutes: sends take milliseconds, fire lag can take minutes. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

/**
 * Every metric the SDK exports, on one registry. Names are the contract the alerting rules in
 * `deploy/prometheus/alerts.yml` and `docs/operations.md` refer to.
 */
export interface AutomationMetrics {
  readonly registry: Registry;
  readonly eventsIngested: Counter<'outcome'>;
  readonly triggersCreated: Counter;
  readonly triggersFinished: Counter<'status' | 'reason'>;
  readonly triggerRetries: Counter;
  /**
   * Runs a cancelling event stopped, by reason and stage. Reasons: `cancelled-by-event` (a rule's
   * `cancelOn`), or a scheduled keyed rule's newer event that gives no due time (`anchor-missing`,
   * `zone-unknown`, `past`, `beyond-horizon`). Stages: `intake` (it was pending or retrying) or
   * `processing` (stopped before an action it had not sent).
   */
  readonly triggersCancelled: Counter<'reason' | 'stage'>;
  /** Runs of `supersede` rules replaced by a newer event (`superseded`), or stored finished because a newer one was pending (`stale`). */
  readonly triggersSuperseded: Counter<'reason'>;
  /**
   * Runs skipped, by reason: at fire time (`conditions-not-met`, `rule-disabled`, `entity-missing`,
   * `recipient-missing`, ...) and at intake (`pending-exists`: a `skipIfPending` rule had one pending;
   * a schedule's `anchor-missing`, `zone-unknown`, `past`, `beyond-horizon`).
   */
  readonly triggersSkipped: Counter<'reason'>;
  /**
   * Scheduled rules' runs recorded skipped at intake because the event gives no due time, by account
   * and reason (`anchor-missing`, `zone-unknown`, `past`, `beyond-horizon`): a tenant whose CRM stopped
   * sending a date, or sends zones the tz database does not know, shows here before its users notice.
   */
  readonly scheduleSkipped: Counter<'account_id' | 'reason'>;
  /** Scheduled keyed rules' pending runs whose due time a newer event for the entity moved, by account. */
  readonly triggersRescheduled: Counter<'account_id'>;
  /**
   * Marketing sends the contact policy held back, by account, channel (the action type: `sms`,
   * `email`, ...) and reason (`quiet-hours`, `capped` with `overCap: 'defer'`): the run waits and
   * re-checks at the end of the window or of the full cap bucket.
   */
  readonly contactDeferred: Counter<'account_id' | 'channel' | 'reason'>;
  /** Sends the contact policy kept from going out, never retried, by account, channel and reason (`suppressed`, `capped`). */
  readonly contactSkipped: Counter<'account_id' | 'channel' | 'reason'>;
  /**
   * Suppression list changes by account, channel, action (`added`, `removed`), reason (`stop`,
   * `unsubscribe`, `bounce`, `spam-report`, `provider-opt-out`, `manual`) and source (`inbound-sms`,
   * `provider-error`, `email-event`, `api`, `cli`, `ui`, `engine`): a spike of additions is a message
   * recipients did not want, or a sender the provider is about to filter.
   */
  readonly suppressionChanges: Counter<'account_id' | 'channel' | 'action' | 'reason' | 'source'>;
  readonly fireLag: Histogram;
  readonly claimBatchSize: Histogram;
  readonly claimBatchLimit: Gauge;
  readonly gatewayDuration: Histogram<'provider' | 'type' | 'outcome'>;
  readonly gatewayErrors: Counter<'provider' | 'type' | 'retryable'>;
  /**
   * Sends by the state the ledger gives them: `accepted`, `refused` and `unknown` from the engine's
   * sends, `delivered`, `undelivered`, `bounced`, `failed` from receipts, `abandoned` from operators.
   */
  readonly deliveries: Counter<'provider' | 'type' | 'state'>;
  readonly busBacklog: Gauge<'bus' | 'name'>;
  readonly busDeadLetters: Gauge<'bus'>;
  readonly busStatsFailures: Gauge<'bus'>;
  /** Read at scrape time, before the bus gauges are reported (see `instrumentBus`). */
  readonly scrapeHooks: Array<() => Promise<void>>;
  readonly httpRequests: Counter<'service' | 'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'service' | 'method' | 'route'>;
}

export interface MetricsOptions {
  /** Register on this registry (default: a new one). */
  registry?: Registry | undefined;
  /** Labels added to every series, e.g. `{ service: 'trigger-service' }`. */
  defaultLabels?: Record<string, string> | undefined;
  /** Also collect Node.js process metrics (CPU, memory, event loop lag). Default true. */
  processMetrics?: boolean | undefined;
}

export const METRICS_OPTION_KEYS = optionKeys<MetricsOptions>()('registry', 'defaultLabels', 'processMetrics');

/** A registry that is not one, labels that are not strings: a CRM_ERR_CONFIG naming the key, not prom-client's TypeError. */
function checkMetricsOptionKinds(factory: string, options: MetricsOptions): void {
  const { registry, defaultLabels, processMetrics } = options as Record<string, unknown>;
  if (registry !== undefined && (typeof registry !== 'object' || registry === null || typeof (registry as Partial<Registry>).registerMetric !== 'function')) {
    throw new AutomationError('CRM_ERR_CONFIG', `${factory}: registry must be a prom-client Registry`);
  }
  if (defaultLabels !== undefined && (typeof defaultLabels !== 'object' || defaultLabels === null || Array.isArray(defaultLabels) || !Object.values(defaultLabels).every((v) => typeof v === 'string'))) {
    throw new AutomationError('CRM_ERR_CONFIG', `${factory}: defaultLabels must be an object of label values (strings) by name`);
  }
  if (processMetrics !== undefined && typeof processMetrics !== 'boolean') throw new AutomationError('CRM_ERR_CONFIG', `${factory}: processMetrics must be true or false`);
}

/**
 * Checks the options of one of this package's functions (its own keys plus {@link MetricsOptions})
 * and returns the metrics to record on: the ones given, or those of the options' registry.
 */
export function metricsFor(
  factory: string,
  options: (MetricsOptions & { metrics?: AutomationMetrics | undefined }) | undefined,
  ownKeys: readonly string[],
): AutomationMetrics {
  checkOptions(factory, options, [...ownKeys, 'metrics', ...METRICS_OPTION_KEYS]);
  if (options) checkMetricsOptionKinds(factory, options);
  const { registry, defaultLabels, processMetrics } = options ?? {};
  return options?.metrics ?? createAutomationMetrics({ registry, defaultLabels, processMetrics });
}

const cache = new WeakMap<Registry, AutomationMetrics>();

/** The metrics of one registry, created once (calling it again with the same registry returns them). */
export function createAutomationMetrics(options: MetricsOptions = {}): AutomationMetrics {
  checkOptions('createAutomationMetrics', options, METRICS_OPTION_KEYS);
  checkMetricsOptionKinds('createAutomationMetrics', options);
  const registry = options.registry ?? new Registry();
  const existing = cache.get(registry);
  if (existing) return existing;
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  const registers = [registry];
  const scrapeHooks: Array<() => Promise<void>> = [];
  // prom-client reads metrics concurrently; the bus gauges share one refresh per scrape.
  let refreshing: Promise<void> | undefined;
  const refresh = () =>
    (refreshing ??= Promise.all(scrapeHooks.map((hook) => hook()))
      .then(() => undefined)
      .finally(() => {
        refreshing = undefined;
      }));
  const metrics: AutomationMetrics = {
    registry,
    scrapeHooks,
    eventsIngested: new Counter({ name: 'crm_events_ingested_total', help: 'Events through intake, by outcome (matched: stored triggers; unmatched: no rule; duplicate: a redelivery; rejected: invalid)', labelNames: ['outcome'], registers }),
    triggersCreated: new Counter({ name: 'crm_triggers_created_total', help: 'Pending triggers stored by intake', registers }),
    triggersFinished: new Counter({ name: 'crm_triggers_finished_total', help: 'Trigger attempts by resulting status and reason', labelNames: ['status', 'reason'], registers }),
    triggerRetries: new Counter({ name: 'crm_trigger_retries_total', help: 'Attempts that ended in retrying (transient failure, backoff scheduled)', registers }),
    triggersCancelled: new Counter({ name: 'crm_triggers_cancelled_total', help: "Runs a cancelling event stopped, by reason (cancelled-by-event: a cancelOn event of the rule; anchor-missing, zone-unknown, past, beyond-horizon: a scheduled rule's newer event with no due time) and stage (intake: pending or retrying; processing: before its next unsent action)", labelNames: ['reason', 'stage'], registers }),
    triggersSuperseded: new Counter({ name: 'crm_triggers_superseded_total', help: 'Runs of supersede rules replaced by a newer event of the same entity (superseded), or stored finished behind a newer pending one (stale)', labelNames: ['reason'], registers }),
    triggersSkipped: new Counter({ name: 'crm_triggers_skipped_total', help: 'Runs skipped, by reason: at fire time (conditions-not-met, entity-missing, recipient-missing, ...) or at intake (pending-exists; a schedule with no due time: anchor-missing, zone-unknown, past, beyond-horizon)', labelNames: ['reason'], registers }),
    scheduleSkipped: new Counter({ name: 'crm_schedule_skipped_total', help: "Scheduled rules' runs recorded skipped at intake because the event gives no due time, by account and reason (anchor-missing, zone-unknown, past, beyond-horizon)", labelNames: ['account_id', 'reason'], registers }),
    triggersRescheduled: new Counter({ name: 'crm_triggers_rescheduled_total', help: "Scheduled keyed rules' pending runs whose due time a newer event for the same entity moved, by account", labelNames: ['account_id'], registers }),
    contactDeferred: new Counter({ name: 'crm_contact_deferred_total', help: 'Marketing sends the contact policy deferred, by account, channel (action type) and reason (quiet-hours, capped)', labelNames: ['account_id', 'channel', 'reason'], registers }),
    contactSkipped: new Counter({ name: 'crm_contact_skipped_total', help: 'Sends the contact policy skipped (never retried), by account, channel (action type) and reason (suppressed, capped)', labelNames: ['account_id', 'channel', 'reason'], registers }),
    suppressionChanges: new Counter({ name: 'crm_suppression_changes_total', help: 'Suppression list changes by account, channel, action (added, removed), reason and source', labelNames: ['account_id', 'channel', 'action', 'reason', 'source'], registers }),
    fireLag: new Histogram({ name: 'crm_trigger_fire_lag_seconds', help: 'Delay between a trigger being due (evaluateAt) and being claimed for dispatch', buckets: LAG_BUCKETS, registers }),
    claimBatchSize: new Histogram({ name: 'crm_claim_batch_size', help: 'Triggers claimed per claim batch', buckets: BATCH_BUCKETS, registers }),
    claimBatchLimit: new Gauge({ name: 'crm_claim_batch_limit', help: 'Triggers the last claim asked for: batchSize, or less while triggers take long enough that more could not start within one lease', registers }),
    gatewayDuration: new Histogram({ name: 'crm_gateway_request_duration_seconds', help: 'Gateway send latency by provider, action type and outcome', labelNames: ['provider', 'type', 'outcome'], buckets: LATENCY_BUCKETS, registers }),
    deliveries: new Counter({ name: 'crm_deliveries_total', help: 'Sends by provider, action type and delivery state (engine outcomes, receipts, operator decisions)', labelNames: ['provider', 'type', 'state'], registers }),
    gatewayErrors: new Counter({ name: 'crm_gateway_errors_total', help: 'Gateway send failures by provider, action type and whether they are retryable', labelNames: ['provider', 'type', 'retryable'], registers }),
    busBacklog: new Gauge({
      name: 'crm_bus_backlog_messages',
      help: 'Messages waiting: queue depth (RabbitMQ) or consumer-group lag (Kafka)',
      labelNames: ['bus', 'name'],
      registers,
      collect: refresh,
    }),
    busDeadLetters: new Gauge({ name: 'crm_bus_dead_letters', help: 'Messages in the dead-letter queue/topic', labelNames: ['bus'], registers, collect: refresh }),
    busStatsFailures: new Gauge({ name: 'crm_bus_stats_failures', help: 'Consecutive failures to read bus stats (broker unreachable)', labelNames: ['bus'], registers, collect: refresh }),
    httpRequests: new Counter({ name: 'crm_http_requests_total', help: 'HTTP requests by service, method, route and status', labelNames: ['service', 'method', 'route', 'status'], registers }),
    httpDuration: new Histogram({ name: 'crm_http_request_duration_seconds', help: 'HTTP request latency by service, method and route', labelNames: ['service', 'method', 'route'], buckets: LATENCY_BUCKETS, registers }),
  };
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'crm_process_' });
  cache.set(registry, metrics);
  return metrics;
}
