/**
 * The engine in one process, no servers: the design doc's two rules, a few CRM events, and a clock
 * we move by hand so the five-minute delay takes no time. Every step is printed.
 *
 * The SMS rule is the entity-aware one (keyed by the job's id, `supersede`, conditions on the job as
 * the CRM has it at fire time), and the "CRM" is a map of jobs in memory: a job re-opened before the
 * delay is over gets no SMS, and three quick status changes to Done get one.
 */
import {
  createAutomationEngine,
  createConsoleChannels,
  createManualClock,
  createMemoryBus,
  createMemoryStore,
} from '@crm-automation/core';
import { highValueJobRule, technicianSmsOnCurrentJobRule } from './rules.js';

const ACCOUNT = 'acc_12345';
const clock = createManualClock('2025-07-06T21:42:00Z');
const at = () => clock.now().toISOString().slice(11, 19);
const say = (line: string) => console.log(`[${at()}] ${line}`);

interface Job {
  id: string;
  number: string;
  status: string;
  client: { name: string };
  assignedTechnician: { name: string; phone: string };
}

/** The CRM: its jobs as they are now, by account and job id. */
const crmJobs = new Map<string, Job>();
const crmKey = (accountId: string, jobId: string) => `${accountId}/${jobId}`;

const engine = createAutomationEngine({
  store: createMemoryStore(),
  bus: createMemoryBus(),
  channels: createConsoleChannels({ write: (line) => console.log(`[${at()}] ${line}`) }),
  clock,
  // What rules with `evaluate: 'current'` see at fire time; null (no such job any more) skips the run.
  facts: {
    job: async ({ accountId, entityKey }) => {
      const job = entityKey === undefined ? undefined : crmJobs.get(crmKey(accountId, entityKey));
      if (job) say(`  CRM: job ${job.id} is now "${job.status}"`);
      return job ?? null;
    },
  },
});

/** The CRM changes a job's status: it saves the job, then publishes the event, as the CRM app does. */
async function crmSetStatus(job: Job, status: string, eventId?: string): Promise<Job> {
  const saved = { ...job, status };
  crmJobs.set(crmKey(ACCOUNT, saved.id), saved);
  say(`CRM: job #${saved.number} -> "${status}"`);
  await engine.publish({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job: saved }, ...(eventId === undefined ? {} : { id: eventId }) });
  return saved;
}

engine.on('event:ingested', ({ event, triggers, created }) => {
  say(`event in: ${event.name} (${event.id.slice(0, 8)}) -> ${triggers.length} trigger(s) stored${created < triggers.length ? ' (redelivery, nothing new)' : ''}`);
  for (const t of triggers) say(`  trigger ${t.id} for rule ${t.ruleId}${t.entityKey === undefined ? '' : ` (job ${t.entityKey})`}, due ${t.evaluateAt.toISOString().slice(11, 19)}`);
});
engine.on('trigger:superseded', ({ triggerId, pendingTriggerId, entityKey, reason }) => {
  say(`  trigger ${triggerId} ${reason === 'superseded' ? 'superseded' : 'stale'}: trigger ${pendingTriggerId} is the one that will run for job ${entityKey ?? '?'}`);
});
engine.on('trigger:evaluated', ({ trigger, matched, conditions }) => {
  say(`trigger ${trigger.id} due: checking conditions of rule ${trigger.ruleId}`);
  for (const c of conditions) {
    // A condition on a fact read at fire time also carries what the event said.
    const then = 'eventValue' in c && JSON.stringify(c.eventValue) !== JSON.stringify(c.factResult) ? ` (the event said ${JSON.stringify(c.eventValue)})` : '';
    say(`  ${c.fact} ${c.factPath ?? ''} ${c.operator} ${JSON.stringify(c.value)}: saw ${JSON.stringify(c.factResult)}${then} -> ${c.result ? 'pass' : 'FAIL'}`);
  }
  say(`  conditions ${matched ? 'met: sending actions' : 'not met: nothing to send'}`);
});
engine.on('trigger:finished', ({ trigger, result }) => {
  say(`trigger ${trigger.id}: ${result.status}${result.history.reason ? ` (${result.history.reason})` : ''}`);
});

const sms = await engine.rules.create(ACCOUNT, technicianSmsOnCurrentJobRule);
const email = await engine.rules.create(ACCOUNT, highValueJobRule);
say(`rules saved: "${sms.name}" (${sms.id}), "${email.name}" (${email.id})`);
await engine.start();

const technician = { name: 'Jane Doe', phone: '+15557654321' };
const done = await crmSetStatus({ id: 'job_abc123', number: 'J-5541', status: 'In Progress', client: { name: 'John Smith' }, assignedTechnician: technician }, 'Done', 'evt-1');
// The bus delivers the same event again.
await engine.publish({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job: done }, id: 'evt-1' });
await engine.publish({ name: 'job.created', accountId: ACCOUNT, payload: { job: { id: 'job_hv_1', number: 'J-9001', total: 2500, client: { name: 'Acme Corp', type: 'Commercial' } } } });
await engine.publish({ name: 'job.created', accountId: ACCOUNT, payload: { job: { id: 'job_lv_1', number: 'J-9002', total: 1999, client: { name: 'Acme Corp', type: 'Commercial' } } } });
await clock.advance(1_000);

say('... waiting five minutes (on the manual clock) ...');
await clock.advance(4 * 60_000 + 59_000);

say('--- a job marked Done, then re-opened two minutes later: no SMS ---');
// The re-opening replaces the run waiting on "Done"; that run would also have found the job open.
const reopened = await crmSetStatus({ id: 'job_def456', number: 'J-5542', status: 'In Progress', client: { name: 'Mary Major' }, assignedTechnician: technician }, 'Done');
await clock.advance(2 * 60_000);
await crmSetStatus(reopened, 'In Progress');
say('... waiting five minutes ...');
await clock.advance(5 * 60_000);

say('--- three quick status changes to Done: one SMS ---');
let flapping: Job = { id: 'job_ghi789', number: 'J-5543', status: 'Scheduled', client: { name: 'Ann Lee' }, assignedTechnician: technician };
for (let change = 0; change < 3; change++) {
  flapping = await crmSetStatus(flapping, 'Done');
  await clock.advance(20_000);
}
// The dispatcher hands the job to another technician; the SMS rule does not listen to this event, but
// its run reads the job when the delay is over, so the SMS goes to the technician assigned then.
crmJobs.set(crmKey(ACCOUNT, flapping.id), { ...flapping, assignedTechnician: { name: 'Sam Rivera', phone: '+15550102030' } });
say(`CRM: job #${flapping.number} reassigned to Sam Rivera`);
await engine.publish({ name: 'job.technician.assigned', accountId: ACCOUNT, payload: { job: crmJobs.get(crmKey(ACCOUNT, flapping.id)) } });
say('... waiting five minutes ...');
await clock.advance(5 * 60_000);
await engine.stop();

const { items } = await engine.triggers.list(ACCOUNT);
const byStatus = items.reduce<Record<string, number>>((acc, t) => ({ ...acc, [t.status]: (acc[t.status] ?? 0) + 1 }), {});
say(`done: ${JSON.stringify(byStatus)}`);
