import type { EventType } from '@crm-automation/http';

// Each example is self-contained (copied out of the repository as a starting point), so it keeps its own
// copy of the design doc's data instead of importing the other example's or @crm-automation/testing's.

/** The CRM's event types, with sample payloads the Management UI offers when building a rule. */
export const DESIGN_DOC_EVENT_TYPES: readonly EventType[] = [
  {
    name: 'job.status.changed',
    description: "A job's status changed (e.g. to Done).",
    samplePayload: { job: { id: 'job_abc123', number: 'J-5541', status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } },
  },
  {
    name: 'job.created',
    description: 'A job was created.',
    samplePayload: { job: { id: 'job_hv_1', number: 'J-9001', total: 2500, client: { name: 'Acme Corp', type: 'Commercial' } } },
  },
];
