import { randomUUID } from 'node:crypto';
import type { AutomationEvent } from '@crm-automation/core';

/** The CRM flows of the design doc, as events. */
export const FLOWS = ['job-done', 'high-value', 'low-value'] as const;
export type Flow = (typeof FLOWS)[number];

/**
 * Builds the `index`-th event of a flow. With one event per flow the jobs are the design doc's
 * (J-5541 for Jane Doe / John Smith; J-9001 high value; J-9002 low value); more get a suffix, and
 * a `tag` goes into every job number and id, so runs can tell their own events apart.
 */
export function flowEvent(flow: Flow, accountId: string, index: number, count: number, runId: string = randomUUID().slice(0, 8), tag?: string | undefined): AutomationEvent {
  const suffix = `${tag ? `-${tag}` : ''}${count > 1 ? `-${index + 1}` : ''}`;
  const id = `sim-${runId}-${flow}${suffix}`;
  // When it happened in the CRM: rule delays count from here, however late the event is consumed.
  const timestamp = new Date().toISOString();
  switch (flow) {
    case 'job-done':
      return {
        id,
        timestamp,
        name: 'job.status.changed',
        accountId,
        payload: {
          job: {
            id: `job_abc123${suffix}`,
            number: `J-5541${suffix}`,
            status: 'Done',
            client: { name: 'John Smith' },
            assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' },
          },
        },
      };
    case 'high-value':
      return { id, timestamp, name: 'job.created', accountId, payload: { job: { id: `job_hv_1${suffix}`, number: `J-9001${suffix}`, total: 2500, client: { name: 'Acme Corp', type: 'Commercial' } } } };
    case 'low-value':
      return { id, timestamp, name: 'job.created', accountId, payload: { job: { id: `job_lv_1${suffix}`, number: `J-9002${suffix}`, total: 1999, client: { name: 'Acme Corp', type: 'Commercial' } } } };
  }
}
