/**
 * The engine in one process, no servers: the design doc's two rules, a few CRM events, and a clock
 * we move by hand so the five-minute delay (and the days an appointment reminder waits) take no time.
 * Every step is printed.
 *
 * The SMS rule is the entity-aware one (keyed by the job's id, `supersede`, conditions on the job as
 * the CRM has it at fire time), and the "CRM" is a map of jobs in memory: a job re-opened before the
 * delay is over gets no SMS, and three quick status changes to Done get one. Then an appointment
 * reminder (09:00 the day before, in the client's zone): the appointment is booked, then moved, and
 * the one reminder moves with it.
 */
import {
  createAutomationEngine,
  createConsoleChannels,
  createManualClock,
  createMemoryBus,
  createMemoryStore,
} from '@crm-automation/core';
import { appointmentReminderRule, highValueJobRule, technicianSmsOnCurrentJobRule } from './rules.js';

const ACCOUNT = 'acc_12345';
const START = '2025-07-06T21:42:00Z';
const clock = createManualClock(START);
/** A time as the demo prints it (UTC): the time of day on the first day, with the date on later ones. */
const utc = (date: Date) => {
  const iso = date.toISOString();
  return iso.slice(0, 10) === START.slice(0, 10) ? iso.slice(11, 19) : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
};
const at = () => utc(clock.now());
const say = (line: string) => console.log(`[${at()}] ${line}`);
/** Wall-clock time in `timeZone`, for display only (the engine did the zone arithmetic). */
const wallClock = (date: Date, timeZone: string) => date.toLocaleString('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'short' });

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

/** What each keyed rule's entity key names, by rule id: the job, or the appointment. */
const entityOf = new Map<string, string>();
const entityLabel = (ruleId: string, entityKey: string | undefined) => `${entityOf.get(ruleId) ?? 'entity'} ${entityKey ?? '?'}`;

engine.on('event:ingested', ({ event, triggers, created }) => {
  say(`event in: ${event.name} (${event.id.slice(0, 8)}) -> ${triggers.length} trigger(s) stored${created < triggers.length ? ' (redelivery, nothing new)' : ''}`);
  for (const t of triggers) say(`  trigger ${t.id} for rule ${t.ruleId}${t.entityKey === undefined ? '' : ` (${entityLabel(t.ruleId, t.entityKey)})`}, due ${utc(t.evaluateAt)}`);
});
engine.on('trigger:superseded', ({ ruleId, triggerId, pendingTriggerId, entityKey, reason }) => {
  say(`  trigger ${triggerId} ${reason === 'superseded' ? 'superseded' : 'stale'}: trigger ${pendingTriggerId} is the one that will run for ${entityLabel(ruleId, entityKey)}`);
});
engine.on('trigger:rescheduled', ({ triggerId, replacedTriggerId, from, to, entityKey }) => {
  say(`  appointment ${entityKey ?? '?'} moved: reminder ${replacedTriggerId} due ${utc(from)} UTC is now ${triggerId}, due ${utc(to)} UTC`);
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
const reminder = await engine.rules.create(ACCOUNT, appointmentReminderRule);
entityOf.set(sms.id, 'job').set(reminder.id, 'appointment');
say(`rules saved: "${sms.name}" (${sms.id}), "${email.name}" (${email.id}), "${reminder.name}" (${reminder.id})`);
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

say('--- an appointment booked, then moved a day later: one reminder, at the new time ---');
interface Appointment {
  id: string;
  service: string;
  /** ISO 8601 with the client's offset, as the CRM stores it. */
  startsAt: string;
  /** How the CRM words it in messages. */
  startsAtText: string;
}
const client = { name: 'Maria Garcia', phone: '+15553217654', timeZone: 'America/Chicago' };

/** The CRM saves an appointment (booked or moved) and publishes its state, as it does on every change. */
async function crmScheduleAppointment(appointment: Appointment): Promise<void> {
  say(`CRM: appointment ${appointment.id} (${appointment.service}) for ${client.name} at ${appointment.startsAt} (${client.timeZone})`);
  await engine.publish({ name: 'appointment.scheduled', accountId: ACCOUNT, payload: { appointment, client } });
}

/** The reminder waiting for the appointment: its due time in the client's zone (as computed) and in UTC. */
async function showPendingReminder(appointmentId: string): Promise<void> {
  const { items } = await engine.triggers.list(ACCOUNT, { ruleId: reminder.id, entityKey: appointmentId, status: 'pending' });
  for (const t of items) {
    const zone = t.schedule ? `${t.schedule.local} (${t.schedule.timeZone}, from the ${t.schedule.zoneSource})` : 'no schedule';
    say(`  pending reminder ${t.id}: due ${zone} = ${t.evaluateAt.toISOString()} UTC`);
    const moved = t.executionHistory.find((h) => h.outcome === 'rescheduled');
    if (moved?.from && moved.to && t.schedule) {
      const tz = t.schedule.timeZone;
      say(`    history: rescheduled from ${wallClock(moved.from, tz)} to ${wallClock(moved.to, tz)} ${tz} (${moved.from.toISOString()} -> ${moved.to.toISOString()} UTC) by event ${moved.eventId?.slice(0, 8) ?? '?'}`);
    }
  }
  say(`  ${items.length} pending reminder(s) for appointment ${appointmentId}`);
}

const appointment: Appointment = { id: 'appt_301', service: 'AC tune-up', startsAt: '2025-07-09T15:00:00-05:00', startsAtText: 'Wednesday July 9 at 3:00 PM' };
await crmScheduleAppointment(appointment);
await showPendingReminder(appointment.id);
// Monday morning the client calls to move it to Thursday.
await clock.set('2025-07-07T15:30:00Z');
await crmScheduleAppointment({ ...appointment, startsAt: '2025-07-10T10:30:00-05:00', startsAtText: 'Thursday July 10 at 10:30 AM' });
await showPendingReminder(appointment.id);
say('... waiting past the old reminder time (Tuesday 09:00 in Chicago) ...');
await clock.set('2025-07-08T18:00:00Z');
say('... waiting past the new one (Wednesday 09:00 in Chicago) and the appointment itself ...');
await clock.set('2025-07-10T18:00:00Z');
await engine.stop();

const { items } = await engine.triggers.list(ACCOUNT);
const byStatus = items.reduce<Record<string, number>>((acc, t) => ({ ...acc, [t.status]: (acc[t.status] ?? 0) + 1 }), {});
say(`done: ${JSON.stringify(byStatus)}`);
