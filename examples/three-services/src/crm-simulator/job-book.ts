import { randomUUID } from 'node:crypto';
import type { AutomationEvent } from '@crm-automation/core';

/** A job as the CRM keeps it: free-form fields, and the two the example's rules read. */
export type Job = Record<string, unknown> & { id: string; status?: unknown };

/**
 * The CRM's jobs as they are now, account by account: what the trigger service's `facts.job`
 * loader reads when a trigger fires. A status change is saved first and then becomes an event, as
 * the CRM app does it, so a loader that reads the job after the event always sees that change or a
 * later one.
 */
export class JobBook {
  private readonly jobs = new Map<string, Job>();
  private lastEventAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  get(accountId: string, jobId: string): Job | undefined {
    const job = this.jobs.get(key(accountId, jobId));
    return job ? structuredClone(job) : undefined;
  }

  /** Records a job as it is (an import, a form saved without a status change): no event. */
  put(accountId: string, job: Job): Job {
    this.jobs.set(key(accountId, job.id), structuredClone(job));
    return structuredClone(job);
  }

  /** Removes a job: a loader then finds no entity, and the run is skipped (`entity-missing`). */
  delete(accountId: string, jobId: string): boolean {
    return this.jobs.delete(key(accountId, jobId));
  }

  /**
   * Changes a job's status and returns the `job.status.changed` event to publish, carrying the whole
   * job as saved. Undefined when there is no such job.
   */
  setStatus(accountId: string, jobId: string, status: string): { job: Job; event: AutomationEvent & { id: string; timestamp: string } } | undefined {
    const current = this.jobs.get(key(accountId, jobId));
    if (!current) return undefined;
    const job = { ...current, status };
    this.jobs.set(key(accountId, jobId), job);
    // Strictly increasing per CRM: `supersede` keeps the run of the newer event, which two changes
    // within one millisecond would not tell apart.
    this.lastEventAt = Math.max(this.now(), this.lastEventAt + 1);
    const event = {
      id: `crm-${randomUUID()}`,
      name: 'job.status.changed',
      accountId,
      timestamp: new Date(this.lastEventAt).toISOString(),
      payload: { job: structuredClone(job) },
    };
    return { job: structuredClone(job), event };
  }
}

const key = (accountId: string, jobId: string) => `${accountId}\u0000${jobId}`;
