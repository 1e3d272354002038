import type { FactLoader } from '@crm-automation/core';
import type { Logger } from 'pino';
import { CrmRequestError, getJob } from '../crm-simulator/crm-client.js';
import { CircuitBreaker } from './rule-lookup/circuit-breaker.js';

export interface CrmJobLoaderOptions {
  /** The CRM's job API (the CRM simulator's server mode). */
  baseUrl: string;
  /** Deadline of one request; the engine's `factTimeoutMs` is the outer bound. */
  timeoutMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  logger: Logger;
}

export interface CrmJobLoader {
  load: FactLoader;
  breaker: CircuitBreaker;
}

/**
 * The `facts.job` loader: the job as the CRM has it when a trigger fires, for rules with
 * `evaluate: 'current'`. The job is the trigger's entity (`trigger.key: '$.job.id'`), or the event's
 * job id for a run without one. A job the CRM does not have resolves to null: the engine skips the
 * run (`entity-missing`). A CRM that fails, answers late or is behind an open circuit throws: the
 * engine retries the trigger with backoff outside its attempt budget. The breaker (the rule lookup's)
 * makes a CRM outage cost each due trigger nothing instead of a timeout.
 */
export function crmJobLoader(options: CrmJobLoaderOptions): CrmJobLoader {
  const log = options.logger.child({ component: 'crm-job-loader' });
  const breaker = new CircuitBreaker({
    failureThreshold: options.breakerFailures,
    cooldownMs: options.breakerCooldownMs,
    service: 'CRM',
    unavailable: (message) => new CrmRequestError(message),
    onStateChange: (state, reason) => (state === 'open' ? log.warn({ state, reason }, 'CRM circuit opened') : log.info({ state, reason }, `CRM circuit ${state}`)),
  });
  const load: FactLoader = async ({ accountId, entityKey, event, signal }) => {
    const jobId = entityKey ?? jobIdOf(event.payload);
    if (jobId === undefined) return null;
    return breaker.run(() => getJob(options.baseUrl, accountId, jobId, AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)])));
  };
  return { load, breaker };
}

function jobIdOf(payload: Record<string, unknown>): string | undefined {
  const job = payload['job'];
  const id = typeof job === 'object' && job !== null ? (job as Record<string, unknown>)['id'] : undefined;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}
