/**
 * The engine in one process, no servers: the design doc's two rules, a few CRM events, and a clock
 * we move by hand so the five-minute delay takes no time. Every step is printed.
 */
import {
  createAutomationEngine,
  createConsoleChannels,
  createManualClock,
  createMemoryBus,
  createMemoryStore,
} from '@crm-automation/core';
import { highValueJobRule, technicianSmsRule } from './rules.js';

const ACCOUNT = 'acc_12345';
const clock = createManualClock('2025-07-06T21:42:00Z');
const at = () => clock.now().toISOString().slice(11, 19);
const say = (line: string) => console.log(`[${at()}] ${line}`);

const engine = createAutomationEngine({
  store: createMemoryStore(),
  bus: createMemoryBus(),
  channels: createConsoleChannels({ write: (line) => console.log(`[${at()}] ${line}`) }),
  clock,
});

engine.on('event:ingested', ({ event, triggers, created }) => {
  say(`event in: ${event.name} (${event.id.slice(0, 8)}) -> ${triggers.length} trigger(s) stored${created < triggers.length ? ' (redelivery, nothing new)' : ''}`);
  for (const t of triggers) say(`  trigger ${t.id} for rule ${t.ruleId}, due ${t.evaluateAt.toISOString().slice(11, 19)}`);
});
engine.on('trigger:evaluated', ({ trigger, matched, conditions }) => {
  say(`trigger ${trigger.id} due: checking conditions of rule ${trigger.ruleId}`);
  for (const c of conditions) {
    say(`  ${c.fact} ${c.factPath ?? ''} ${c.operator} ${JSON.stringify(c.value)}: saw ${JSON.stringify(c.factResult)} -> ${c.result ? 'pass' : 'FAIL'}`);
  }
  say(`  conditions ${matched ? 'met: sending actions' : 'not met: nothing to send'}`);
});
engine.on('trigger:finished', ({ trigger, result }) => {
  say(`trigger ${trigger.id}: ${result.status}${result.history.reason ? ` (${result.history.reason})` : ''}`);
});

const sms = await engine.rules.create(ACCOUNT, technicianSmsRule);
const email = await engine.rules.create(ACCOUNT, highValueJobRule);
say(`rules saved: "${sms.name}" (${sms.id}), "${email.name}" (${email.id})`);
await engine.start();

const job = {
  id: 'job_abc123',
  number: 'J-5541',
  status: 'Done',
  client: { name: 'John Smith' },
  assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' },
};
await engine.publish({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job }, id: 'evt-1' });
await engine.publish({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job }, id: 'evt-1' });
await engine.publish({ name: 'job.created', accountId: ACCOUNT, payload: { job: { id: 'job_hv_1', number: 'J-9001', total: 2500, client: { name: 'Acme Corp', type: 'Commercial' } } } });
await engine.publish({ name: 'job.created', accountId: ACCOUNT, payload: { job: { id: 'job_lv_1', number: 'J-9002', total: 1999, client: { name: 'Acme Corp', type: 'Commercial' } } } });
await clock.advance(1_000);

say('... waiting five minutes (on the manual clock) ...');
await clock.advance(4 * 60_000 + 59_000);
await engine.stop();

const { items } = await engine.triggers.list(ACCOUNT);
const byStatus = items.reduce<Record<string, number>>((acc, t) => ({ ...acc, [t.status]: (acc[t.status] ?? 0) + 1 }), {});
say(`done: ${JSON.stringify(byStatus)}`);
