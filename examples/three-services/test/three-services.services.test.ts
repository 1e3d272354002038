/**
 * The three-service example end to end, as real processes against real servers: rules created over
 * REST, events published by the CRM simulator (job status changes through its job API, which the SMS
 * rule reads back when it fires), SMS / email / webhook checked at the provider stand-ins; a job
 * re-opened during the delay, and three quick changes to Done. Then the failures the design is built for: the trigger service killed with SIGKILL
 * mid-work, the notification service away for a while, the rules service away (with each lookup
 * pattern), the trigger service away behind the Rules API's trigger routes. Run on RabbitMQ and on
 * Kafka with MongoDB (and Redis for sent commands), and the main scenarios again on PostgreSQL alone.
 *
 * A server that is missing, or a service that does not start, fails every test of its run with that
 * reason (vitest would report a failed `beforeAll` as its tests "skipped"; here they fail).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody, malformedRequests, sendRawRequest } from '@crm-automation/testing';
import { highValueJobRule, technicianSmsRule } from '../src/design-doc-rules.js';
import { EXAMPLE_TWILIO_NUMBER, exampleStack, randomSecrets, runSimulator, type ExampleStack, type StackSecrets } from '../src/launcher/example-stack.js';
import { received, replyBySms, rulesApi, setStandInBehaviour, triggersOf, triggersOfEntity, type DeliveryView, type TriggerView } from './support/example-clients.js';
import { deleteJob, putJob, setJobStatus } from '../src/crm-simulator/crm-client.js';
import { deleteKafkaNames, deleteRabbitNames, dropDatabases, dropSchemas } from './support/cleanup.js';
import { createMongoContactStore } from '@crm-automation/adapter-mongo';
import { createPostgresContactStore } from '@crm-automation/adapter-postgres';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { generateApiKey } from '@crm-automation/http';
import { freePorts } from '../src/launcher/free-ports.js';
import { requireServerEnv } from './support/server-env.js';
import { sleep, waitFor } from './support/wait-for.js';

type Transport = 'rabbitmq' | 'kafka';
type Lookup = 'rest' | 'grpc' | 'pubsub';
type Store = 'mongo' | 'postgres';

/** The SMS rule fires this long after its event: the design doc's 5 minutes, shortened. */
const SMS_DELAY_S = 3;
/** The entity scenarios' SMS delay: every status change of a scenario is consumed well within it. */
const ENTITY_SMS_DELAY_S = 8;
const BUS_RETRY_DELAYS_MS = [300, 600, 1_000];
const ACCOUNT = 'acc_12345';
const smsText = (job: string) => `Hi Jane Doe, job #${job} for John Smith has been completed.`;

/**
 * The same scenarios on both transports with MongoDB, each run starting with a different lookup
 * pattern; on PostgreSQL (rules, triggers, the pub/sub replica and the sent commands) once, on
 * RabbitMQ, with the two patterns whose storage differs (the replica, and none).
 */
const RUNS: Array<{ transport: Transport; store: Store; lookup: Lookup; outages: Lookup[]; stopReplies: boolean }> = [
  { transport: 'rabbitmq', store: 'mongo', lookup: 'rest', outages: ['rest', 'grpc', 'pubsub'], stopReplies: true },
  // The contact data is the store's, not the transport's: its scenario runs once per store.
  { transport: 'kafka', store: 'mongo', lookup: 'pubsub', outages: ['pubsub', 'grpc', 'rest'], stopReplies: false },
  { transport: 'rabbitmq', store: 'postgres', lookup: 'pubsub', outages: ['pubsub', 'rest'], stopReplies: true },
];

/** Under the services project's hookTimeout (180 s). */
const START_DEADLINE_MS = 170_000;

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

const SERVERS: Record<Store, string[]> = { mongo: ['MONGODB_URI', 'REDIS_URL'], postgres: ['POSTGRES_URL'] };

describe.each(RUNS)('three services on $transport with $store', ({ transport, store, lookup, outages, stopReplies }) => {
  const runId = `e2e${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  /** Where each service keeps its data: separate databases (schemas), so a test can see each touches only its own. */
  const names = { rules: `${runId}_rules`, triggers: `${runId}_triggers`, notify: `${runId}_notify` };
  /** A second account with its own key, for tenant isolation across the services. */
  const other = { accountId: 'acc_other', ...generateApiKey() };
  /**
   * The entity scenarios' account: its SMS rule (the example's, with a longer delay) waits long enough
   * for every status change to be consumed before the first run is due, even on a loaded machine where
   * intake lags; acc_12345's 3-second rule does not see its events.
   */
  const entities = { accountId: 'acc_entities', ...generateApiKey() };
  let entitySmsRuleId: string;
  let server: Record<string, string>;
  let stack: ExampleStack;
  let secrets: StackSecrets;
  let smsRuleId: string;
  let emailRuleId: string;
  const logs: string[] = [];

  const api = <T>(method: string, path: string, body?: unknown) => rulesApi<T>(stack.urls.rules, secrets.devApiKey, method, path, body);
  /** A Rules API call that may fail: its status, headers and JSON body. */
  const call = async (method: string, path: string, options: { body?: unknown; key?: string } = {}) => {
    const response = await fetch(`${stack.urls.rules}${path}`, {
      method,
      headers: { authorization: `Bearer ${options.key ?? secrets.devApiKey}`, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Record<string, any> };
  };
  /** Deletes a rule from the pub/sub replica in the trigger service's database; resolves to how many went. */
  const forgetReplicatedRule = async (ruleId: string): Promise<number> => {
    if (store === 'postgres') {
      const pool = new pg.Pool({ connectionString: server['POSTGRES_URL'], max: 1 });
      try {
        return (await pool.query(`DELETE FROM "${names.triggers}".rule_replica WHERE id = $1`, [ruleId])).rowCount ?? 0;
      } finally {
        await pool.end();
      }
    }
    const client = new MongoClient(server['MONGODB_URI'] as string);
    try {
      return (await client.db(names.triggers).collection<{ _id: string }>('rule_replica').deleteOne({ _id: ruleId })).deletedCount;
    } finally {
      await client.close();
    }
  };
  /** The tables (PostgreSQL) or collections (MongoDB) of one service's database. */
  const storageOf = async (name: string): Promise<string[]> => {
    if (store === 'postgres') {
      const pool = new pg.Pool({ connectionString: server['POSTGRES_URL'], max: 1 });
      try {
        return (await pool.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [name])).rows.map((r) => r.table_name);
      } finally {
        await pool.end();
      }
    }
    const client = new MongoClient(server['MONGODB_URI'] as string);
    try {
      return (await client.db(name).listCollections().toArray()).map((c) => c.name).sort();
    } finally {
      await client.close();
    }
  };
  const simulate = (...args: string[]) => runSimulator(stack.busEnv, args);
  const smsTo = async (body: string) => (await received(stack.urls.standIns)).sms.filter((s) => s.body === body);
  const smsWithTag = async (tag: string) => (await received(stack.urls.standIns)).sms.filter((s) => s.body.includes(`J-5541-${tag}`));
  const smsTriggersWithTag = async (tag: string) => (await triggersOf(stack.urls.rules, secrets.devApiKey, smsRuleId)).filter((t) => t.triggeringEvent.payload.job?.number?.startsWith(`J-5541-${tag}`));
  /** Waits until the trigger service has the lookup pattern's dependencies and is serving. */
  const restartTrigger = async (pattern: Lookup) => {
    await stack.trigger.stop();
    stack.trigger.options.env = { ...stack.trigger.options.env, RULE_LOOKUP: pattern };
    await stack.trigger.start();
  };

  /** Everything the tests need, up; a failure here fails every test of the run with its reason. */
  const start = async () => {
    server = requireServerEnv(...SERVERS[store], transport === 'rabbitmq' ? 'RABBITMQ_URL' : 'KAFKA_BROKERS');
    const [rules, grpc, trigger, notification, standIns, crm] = (await freePorts(6)) as [number, number, number, number, number, number];
    secrets = randomSecrets();
    stack = exampleStack({
      transport,
      ruleLookup: lookup,
      store,
      mongodbUri: server['MONGODB_URI'],
      rulesDb: names.rules,
      triggersDb: names.triggers,
      redisUrl: server['REDIS_URL'],
      redisPrefix: `${runId}:idempotency:`,
      postgresUrl: server['POSTGRES_URL'],
      rulesSchema: names.rules,
      triggersSchema: names.triggers,
      idempotencySchema: names.notify,
      rabbitmqUrl: server['RABBITMQ_URL'],
      kafkaBrokers: server['KAFKA_BROKERS'],
      busPrefix: runId,
      ports: { rules, grpc, trigger, notification, standIns, crm },
      secrets,
      env: {
        trigger: {
          POLL_INTERVAL_MS: '200',
          // provider 2 s < notification call 3 s < engine send 4 s < lease 9 s
          NOTIFICATION_TIMEOUT_MS: '3000',
          SEND_TIMEOUT_MS: '4000',
          LEASE_MS: '9000',
          CONCURRENCY: '4',
          MAX_ATTEMPTS: '30',
          BACKOFF_BASE_MS: '500',
          BACKOFF_MAX_MS: '2000',
          BUS_MAX_ATTEMPTS: '100',
          BUS_RETRY_DELAYS_MS: BUS_RETRY_DELAYS_MS.join(','),
          RULES_TIMEOUT_MS: '500',
          RULES_RETRIES: '1',
          RULES_BREAKER_FAILURES: '3',
          RULES_BREAKER_COOLDOWN_MS: '1000',
          RULES_CACHE_TTL_MS: '500',
          // No stale answers: a rules service outage must be ridden out by waiting, which is what we test.
          RULES_CACHE_STALE_MS: '0',
          KAFKA_SESSION_TIMEOUT_MS: '6000',
        },
        notification: { PROVIDER_TIMEOUT_MS: '2000' },
        rules: { RULES_API_KEYS: `${other.accountId}:${other.hash},${entities.accountId}:${entities.hash}`, TRIGGER_SERVICE_TIMEOUT_MS: '2000' },
      },
      logLevel: 'info',
      // Kept: the lines that show a send, to check what every log line of one must carry.
      onLine: (service, line) => {
        if (line.includes('"msg":"action sent"') || line.includes('"msg":"notification sent"')) logs.push(`[${service}] ${line}`);
      },
    });
    try {
      await stack.startAll();
    } catch (error) {
      await stack.stopAll();
      throw error;
    }
    const sms = await api<{ id: string }>('POST', '/rules', technicianSmsRule({ smsDelay: { value: SMS_DELAY_S, unit: 'seconds' } }));
    const email = await api<{ id: string }>('POST', '/rules', highValueJobRule({ webhookUrl: stack.urls.webhook }));
    smsRuleId = sms.id;
    emailRuleId = email.id;
    entitySmsRuleId = (await rulesApi<{ id: string }>(stack.urls.rules, entities.key, 'POST', '/rules', technicianSmsRule({ smsDelay: { value: ENTITY_SMS_DELAY_S, unit: 'seconds' } }))).id;
  };
  let started: Promise<void>;
  beforeAll(() => {
    // Bounded below the hook timeout: a hook that times out would again leave the tests "skipped".
    started = withDeadline(start(), START_DEADLINE_MS, 'starting the servers and services');
    // Awaited by every test instead: a failed start then fails each of them, loudly, with its reason.
    return started.catch(() => undefined);
  });
  /** A test of this run: fails at once with the start-up error when the run could not start. */
  const scenario = (name: string, body: () => Promise<void> | void, timeoutMs?: number) =>
    it(name, async () => {
      await started;
      await body();
    }, timeoutMs);

  afterAll(async () => {
    await stack?.stopAll();
    if (!server) return;
    if (store === 'mongo') await dropDatabases(server['MONGODB_URI'] as string, [names.rules, names.triggers]).catch(() => {});
    else await dropSchemas(server['POSTGRES_URL'] as string, [names.rules, names.triggers, names.notify]).catch(() => {});
    if (transport === 'rabbitmq') await deleteRabbitNames(server['RABBITMQ_URL'] as string, runId, BUS_RETRY_DELAYS_MS).catch(() => {});
    else await deleteKafkaNames(server['KAFKA_BROKERS'] as string, runId).catch(() => {});
  });

  scenario('runs the design doc flows: the SMS after its delay, the high-value email and webhook at once, nothing for the low-value job', async () => {
    await simulate('job-done', 'high-value', 'low-value');
    const body = smsText('J-5541');
    const [sms] = await waitFor('the technician SMS', async () => ((await smsTo(body)).length > 0 ? smsTo(body) : undefined));
    const log = await waitFor('the email and the webhook', async () => {
      const r = await received(stack.urls.standIns);
      return r.email.length > 0 && r.webhook.length > 0 ? r : undefined;
    });
    expect(sms).toMatchObject({ to: '+15557654321', from: '+15550001111', body: 'Hi Jane Doe, job #J-5541 for John Smith has been completed.' });
    expect(log.email).toEqual([
      expect.objectContaining({
        to: ['manager@CRM.com'],
        subject: 'New High-Value Job: #J-9001',
        templateId: 'new-high-value-job-template',
        templateData: { job: { id: 'job_hv_1', number: 'J-9001', total: 2500, client: { name: 'Acme Corp', type: 'Commercial' } } },
        customArgs: expect.objectContaining({ ruleId: emailRuleId, accountId: ACCOUNT }),
      }),
    ]);
    expect(log.webhook).toEqual([
      expect.objectContaining({ path: '/hooks/new-lead', payload: { source: 'CRM Automation', jobId: 'job_hv_1', clientName: 'Acme Corp', value: '2500' } }),
    ]);

    // At the right time: due exactly SMS_DELAY_S after the event, and not sent before that.
    const [smsTrigger] = (await triggersOf(stack.urls.rules, secrets.devApiKey, smsRuleId)).filter((t) => t.triggeringEvent.payload.job?.number === 'J-5541');
    expect(smsTrigger).toBeDefined();
    const eventAt = Date.parse((smsTrigger as TriggerView).triggeringEvent.timestamp);
    expect(Date.parse((smsTrigger as TriggerView).evaluateAt) - eventAt, JSON.stringify((smsTrigger as TriggerView).executionHistory)).toBe(SMS_DELAY_S * 1_000);
    expect(Date.parse(sms?.at ?? '')).toBeGreaterThanOrEqual(eventAt + SMS_DELAY_S * 1_000);

    // Once each, and the low-value job skipped on its conditions.
    const emailTriggers = await waitFor('both job.created triggers final', async () => {
      const all = await triggersOf(stack.urls.rules, secrets.devApiKey, emailRuleId);
      return all.length === 2 && all.every((t) => t.status === 'completed' || t.status === 'skipped') ? all : undefined;
    });
    expect(emailTriggers.map((t) => [t.triggeringEvent.payload.job?.number, t.status]).sort()).toEqual([['J-9001', 'completed'], ['J-9002', 'skipped']]);
    await sleep(1_000);
    const after = await received(stack.urls.standIns);
    expect(after.sms.filter((s) => s.body === body)).toHaveLength(1);
    expect(after.email).toHaveLength(1);
    expect(after.webhook).toHaveLength(1);
    expect(JSON.stringify(after)).not.toContain('J-9002');
  });

  /** A job of the CRM simulator, in progress, for the entity scenarios. */
  const crmJob = (tag: string) => ({ id: `job_${tag}`, number: `J-5541-${tag}`, status: 'In Progress', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } });
  const FINAL = new Set(['completed', 'skipped', 'cancelled', 'failed']);
  /** Waits until the entity account's SMS rule has `count` runs for the job, every one final. */
  const finalRunsOf = (jobId: string, count: number) =>
    waitFor(`${count} final runs for ${jobId}`, async () => {
      const runs = await triggersOfEntity(stack.urls.rules, entities.key, entitySmsRuleId, jobId);
      return runs.length === count && runs.every((t) => FINAL.has(t.status)) ? runs : undefined;
    }, 60_000);

  scenario('a job re-opened before the delay gets no SMS: the rule reads the job from the CRM when it fires (and skips a job the CRM no longer has)', async () => {
    // Re-opened with its status event: the re-opening's run replaces the waiting one, and finds the job open.
    const reopened = crmJob('reopened');
    await putJob(stack.urls.crm, entities.accountId, reopened);
    await setJobStatus(stack.urls.crm, entities.accountId, reopened.id, 'Done');
    await setJobStatus(stack.urls.crm, entities.accountId, reopened.id, 'In Progress');
    // Re-opened in the CRM but its event not here yet: the run of "Done" fires, and reads the job as it is.
    const late = crmJob('reopened-late');
    await putJob(stack.urls.crm, entities.accountId, late);
    await setJobStatus(stack.urls.crm, entities.accountId, late.id, 'Done');
    await putJob(stack.urls.crm, entities.accountId, { ...late, status: 'In Progress' });
    // Gone from the CRM before the SMS was due.
    const deleted = crmJob('deleted');
    await putJob(stack.urls.crm, entities.accountId, deleted);
    await setJobStatus(stack.urls.crm, entities.accountId, deleted.id, 'Done');
    await deleteJob(stack.urls.crm, entities.accountId, deleted.id);

    const runs = await finalRunsOf(reopened.id, 2);
    expect(runs.map((t) => t.status).sort()).toEqual(['cancelled', 'skipped']);
    const replaced = runs.find((t) => t.status === 'cancelled');
    const kept = runs.find((t) => t.status === 'skipped');
    expect(replaced?.executionHistory.at(-1)).toMatchObject({ outcome: 'superseded', triggerId: kept?.id });
    expect(kept?.executionHistory.at(-1)).toMatchObject({ outcome: 'skipped', reason: 'conditions-not-met' });

    const [lateRun] = await finalRunsOf(late.id, 1);
    expect(lateRun?.status).toBe('skipped');
    const statusCheck = lateRun?.executionHistory.at(-1)?.conditions?.find((c) => c.factPath === '$.status');
    expect(statusCheck).toMatchObject({ fact: 'job', factResult: 'In Progress', eventValue: 'Done', result: false });

    const [deletedRun] = await finalRunsOf(deleted.id, 1);
    expect([deletedRun?.status, deletedRun?.executionHistory.at(-1)?.reason]).toEqual(['skipped', 'entity-missing']);

    await sleep(1_000);
    expect([...(await smsWithTag('reopened')), ...(await smsWithTag('deleted'))]).toEqual([]);
  });

  scenario('three quick status changes to Done send one SMS (supersede), due the delay after the last change', async () => {
    const flapping = crmJob('flapping');
    await putJob(stack.urls.crm, entities.accountId, flapping);
    const changes = [];
    for (const status of ['Done', 'In Progress', 'Done', 'In Progress', 'Done']) changes.push(await setJobStatus(stack.urls.crm, entities.accountId, flapping.id, status));
    const runs = await finalRunsOf(flapping.id, changes.length);
    expect(runs.map((t) => t.status).sort()).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled', 'completed']);
    // Events may be consumed out of order: whichever came later, the run kept is the newest event's.
    const last = changes.at(-1);
    const completed = runs.find((t) => t.status === 'completed');
    expect(completed?.triggeringEvent.id).toBe(last?.event.id);
    expect(Date.parse(completed?.evaluateAt ?? '')).toBe(Date.parse(last?.event.timestamp ?? '') + ENTITY_SMS_DELAY_S * 1_000);
    for (const run of runs.filter((t) => t.status === 'cancelled')) {
      expect(run.executionHistory.at(-1), run.id).toMatchObject({ outcome: 'superseded' });
    }
    await sleep(1_000);
    expect((await smsWithTag('flapping')).map((m) => m.body)).toEqual([smsText('J-5541-flapping')]);
  });

  scenario('delivery receipts: the providers’ signed receipts reach the trigger service’s ledger through the notification service, forward only; the Rules API shows them', async () => {
    const sendsOf = async (triggerId: string) => (await call('GET', `/triggers/${triggerId}/deliveries`)).body['items'] as DeliveryView[];
    const settled = (what: string, triggerId: string, done: (sends: DeliveryView[]) => boolean) =>
      waitFor(what, async () => {
        const sends = await sendsOf(triggerId);
        return done(sends) ? sends : undefined;
      });

    // The first scenario's SMS and email: Twilio said sent then delivered, SendGrid processed then delivered.
    const [smsTrigger] = (await triggersOf(stack.urls.rules, secrets.devApiKey, smsRuleId)).filter((t) => t.triggeringEvent.payload.job?.number === 'J-5541');
    const [sms] = await settled('the SMS delivered', smsTrigger?.id ?? '', (sends) => sends[0]?.state === 'delivered');
    expect(sms).toMatchObject({ type: 'sms', provider: 'twilio', state: 'delivered' });
    expect(sms?.events.filter((e) => e.source === 'receipt' && e.state !== 'accepted').map((e) => e.state)).toEqual(['delivered']);
    const [emailTrigger] = (await triggersOf(stack.urls.rules, secrets.devApiKey, emailRuleId)).filter((t) => t.triggeringEvent.payload.job?.number === 'J-9001');
    const sends = await settled('the email delivered', emailTrigger?.id ?? '', (all) => all.some((d) => d.type === 'email' && d.state === 'delivered'));
    expect(sends.map((d) => [d.type, d.provider, d.state]).sort()).toEqual([['email', 'sendgrid', 'delivered'], ['webhook', 'webhook', 'accepted']]);
    const posted = (await received(stack.urls.standIns)).receipts.filter((r) => r.messageId === sms?.providerId);
    expect(posted.map((r) => [r.status, r.answer])).toEqual([['sent', 200], ['delivered', 200]]);

    // Out of order and repeated: delivered first, then a late sent, a duplicate and a contradicting undelivered.
    await setStandInBehaviour(stack.urls.standIns, { smsReceipts: ['delivered', 'sent', 'delivered', 'undelivered'] });
    try {
      await simulate('job-done', '--tag', 'receipts');
      const [trigger] = await waitFor('the receipts SMS trigger', async () => {
        const found = await smsTriggersWithTag('receipts');
        return found.length === 1 && found[0]?.status === 'completed' ? found : undefined;
      });
      const [late] = await settled('the out-of-order SMS delivered', trigger?.id ?? '', (all) => all[0]?.state === 'delivered');
      await waitFor('all four receipts posted', async () => (await received(stack.urls.standIns)).receipts.filter((r) => r.messageId === late?.providerId).length === 4);
      expect((await received(stack.urls.standIns)).receipts.filter((r) => r.messageId === late?.providerId).map((r) => r.answer)).toEqual([200, 200, 200, 200]);
      const [after] = await sendsOf(trigger?.id ?? '');
      expect(after?.state).toBe('delivered');
      expect(after?.events.filter((e) => e.source === 'receipt' && e.state !== 'accepted').map((e) => e.state)).toEqual(['delivered']);
      expect((await call('GET', `/deliveries?state=delivered&provider=twilio&triggerId=${trigger?.id}`)).body['items'].map((d: DeliveryView) => d.id)).toEqual([late?.id]);
    } finally {
      await setStandInBehaviour(stack.urls.standIns, { smsReceipts: ['sent', 'delivered'] });
    }

    // Signed with Twilio's scheme here, independently of the code under test.
    const twilioPost = (url: string, params: Record<string, string>, authToken: string) => {
      const form = new URLSearchParams(params);
      const signature = createHmac('sha1', authToken).update([...form.keys()].sort().reduce((acc, key) => acc + key + (form.get(key) ?? ''), url)).digest('base64');
      return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature }, body: form.toString() });
    };
    const callback = `${stack.urls.notification}/receipts/twilio?d=${encodeURIComponent(sms?.id ?? '')}`;
    const forged = await twilioPost(callback, { MessageSid: sms?.providerId ?? '', MessageStatus: 'undelivered' }, 'not-the-auth-token-0123456789abcd');
    expect([forged.status, ((await forged.json()) as { error: { code: string } }).error.code]).toEqual([401, 'CRM_ERR_HTTP_UNAUTHENTICATED']);
    const unsigned = await fetch(`${stack.urls.notification}/receipts/sendgrid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ event: 'bounce', deliveryId: sends.find((d) => d.type === 'email')?.id }]) });
    expect(unsigned.status).toBe(401);
    const unknown = await twilioPost(`${stack.urls.notification}/receipts/twilio`, { MessageSid: `SM${'0'.repeat(32)}`, MessageStatus: 'delivered' }, secrets.twilioAuthToken);
    expect([unknown.status, await unknown.json()]).toEqual([200, { applied: false, reason: 'unknown-id' }]);
    expect((await sendsOf(smsTrigger?.id ?? ''))[0]?.events).toEqual(sms?.events);
    expect((await sendsOf(emailTrigger?.id ?? '')).find((d) => d.type === 'email')?.state).toBe('delivered');

    // Another account sees none of these sends.
    expect((await call('GET', '/deliveries?limit=500', { key: other.key })).body['items']).toEqual([]);
    expect((await call('GET', `/deliveries/${sms?.id}`, { key: other.key })).status).toBe(404);
    expect((await call('GET', `/triggers/${smsTrigger?.id}/deliveries`, { key: other.key })).status).toBe(404);
  });

  /** An SMS to the client a second after their job is scheduled (the README's "A client replies STOP"). */
  const clientReminderRule = () => ({
    name: 'Remind the client of a scheduled visit',
    enabled: true,
    trigger: { eventName: 'job.status.changed', key: '$.job.id' },
    delay: { value: 1, unit: 'seconds' },
    conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Scheduled' }, { fact: 'job', path: '$.client.phone', operator: 'present', value: true }] },
    actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.client.phone' }, message: 'Hi {{job.client.name}}, job #{{job.number}} is scheduled. Reply STOP to stop these texts.' } }],
  });

  if (stopReplies) {
    scenario('a client’s STOP reply through the Twilio stand-in suppresses the next reminder (a forged one changes nothing), START lets the one after through, and a STOP Twilio kept to itself ends as a skip (21610)', async () => {
      // No other scenario texts this number: the opt-outs stay out of their way.
      const client = '+15559870018';
      const reminder = await api<{ id: string }>('POST', '/rules', clientReminderRule());
      // The trigger service's contact data, read through the engine's port on its own database.
      const contact = store === 'postgres' ? createPostgresContactStore({ connectionString: server['POSTGRES_URL'], schema: names.triggers }) : createMongoContactStore({ uri: server['MONGODB_URI'], dbName: names.triggers });
      const remindersReceived = async () => (await received(stack.urls.standIns)).sms.filter((s) => s.to === client).map((s) => /#(J-STOP-\d+)/.exec(s.body)?.[1]);
      /** Schedules job `n` in the CRM (which publishes its status change) and waits for the reminder's run to be final. */
      const remind = async (n: number) => {
        const job = { id: `job_stop_${n}`, number: `J-STOP-${n}`, status: 'Booked', client: { name: 'John Smith', phone: client } };
        await putJob(stack.urls.crm, ACCOUNT, job);
        await setJobStatus(stack.urls.crm, ACCOUNT, job.id, 'Scheduled');
        return waitFor(`the run of reminder ${n} final`, async () => {
          const [run] = (await triggersOf(stack.urls.rules, secrets.devApiKey, reminder.id)).filter((t) => t.triggeringEvent.payload.job?.number === job.number);
          return run && FINAL.has(run.status) ? run : undefined;
        });
      };
      /** The suppression as the Rules API shows it (the rules service asks the trigger service), checked against the port. */
      const suppressedAs = async () => {
        const answer = await call('GET', `/suppressions/sms/${encodeURIComponent(client)}`);
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        const entry = await contact.findSuppression(ACCOUNT, 'sms', client);
        expect([answer.body['suppressed'], answer.body['suppression']?.['reason']]).toEqual([entry !== null, entry?.reason]);
        return entry ? [entry.reason, entry.source] : null;
      };
      const inbound = `${stack.urls.trigger}/receipts/twilio/inbound`;
      try {
        const first = await remind(1);
        expect(first.status).toBe('completed');
        expect(await remindersReceived()).toEqual(['J-STOP-1']);

        // Forged: signed with another token, or not at all. Twilio's guidance is 403, and nothing changes.
        const stop = new URLSearchParams({ MessageSid: `SM${'1'.repeat(32)}`, AccountSid: secrets.twilioAccountSid, From: client, To: EXAMPLE_TWILIO_NUMBER, Body: 'STOP' });
        const badSignature = createHmac('sha1', 'not-the-auth-token-0123456789abcd').update([...stop.keys()].sort().reduce((acc, key) => acc + key + (stop.get(key) ?? ''), inbound)).digest('base64');
        for (const headers of [{ 'x-twilio-signature': badSignature }, {}]) {
          const forged = await fetch(inbound, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: stop.toString() });
          expect([forged.status, ((await forged.json()) as { error: { code: string } }).error.code]).toEqual([403, 'CRM_ERR_HTTP_FORBIDDEN']);
        }
        expect(await suppressedAs()).toBeNull();

        // The client replies STOP: Twilio posts it, signed, to the trigger service.
        const stopped = await replyBySms(stack.urls.standIns, { from: client, body: 'Stop' });
        expect([stopped.optOutType, stopped.webhook]).toEqual(['STOP', { url: inbound, answer: 200 }]);
        expect(await suppressedAs()).toEqual(['stop', 'inbound-sms']);

        // The next reminder is skipped at fire time, without asking the provider.
        const second = await remind(2);
        expect(second.status).toBe('skipped');
        expect(second.executionHistory.at(-1)).toMatchObject({ outcome: 'skipped', reason: 'suppressed', actions: [{ index: 0, type: 'sms', status: 'skipped', reason: 'suppressed' }] });
        const afterStop = await received(stack.urls.standIns);
        expect(await remindersReceived()).toEqual(['J-STOP-1']);
        expect(afterStop.refused.filter((r) => r.to === client)).toEqual([]);

        // START lifts it, at Twilio and here; the change log keeps both.
        const started = await replyBySms(stack.urls.standIns, { from: client, body: 'START' });
        expect([started.optOutType, started.webhook?.answer]).toEqual(['START', 200]);
        expect(await suppressedAs()).toBeNull();
        const changes = (await call('GET', `/suppressions/changes?channel=sms&recipient=${encodeURIComponent(client)}`)).body['items'] as Array<Record<string, string>>;
        expect(changes.map((c) => [c['action'], c['reason'], c['source'], c['by']])).toEqual([['added', 'stop', 'inbound-sms', 'twilio'], ['removed', 'stop', 'inbound-sms', 'twilio']]);
        // Another account's list does not have it.
        expect((await call('GET', '/suppressions?channel=sms', { key: other.key })).body['items']).toEqual([]);
        const third = await remind(3);
        expect(third.status).toBe('completed');
        expect(await remindersReceived()).toEqual(['J-STOP-1', 'J-STOP-3']);

        // A STOP that reached Twilio but not us (its webhook not delivered): the send meets 21610, and
        // the engine records a skip and the suppression instead of a failure.
        const unheard = await replyBySms(stack.urls.standIns, { from: client, body: 'STOP', webhook: false });
        expect([unheard.optOutType, unheard.webhook]).toEqual(['STOP', null]);
        expect(await suppressedAs()).toBeNull();
        const fourth = await remind(4);
        expect(fourth.status).toBe('skipped');
        expect(fourth.executionHistory.at(-1)).toMatchObject({ outcome: 'skipped', reason: 'suppressed', actions: [{ status: 'skipped', reason: 'suppressed', error: { providerCode: 21610 } }] });
        expect((await received(stack.urls.standIns)).refused.filter((r) => r.to === client).map((r) => [r.code, /#(J-STOP-\d+)/.exec(r.body)?.[1]])).toEqual([[21610, 'J-STOP-4']]);
        expect(await remindersReceived()).toEqual(['J-STOP-1', 'J-STOP-3']);
        expect(await suppressedAs()).toEqual(['provider-opt-out', 'provider-error']);

        // An operator lifts it through the Rules API: gone from the trigger service's data, by them.
        const lifted = await call('DELETE', `/suppressions/sms/${encodeURIComponent(client)}?detail=${encodeURIComponent('confirmed by phone')}`);
        expect([lifted.status, lifted.body]).toEqual([200, { removed: true }]);
        expect(await suppressedAs()).toBeNull();
        expect((await contact.suppressionChanges(ACCOUNT, { channel: 'sms', recipient: client })).items.at(-1)).toMatchObject({ action: 'removed', source: 'api', detail: 'confirmed by phone' });
        expect((await call('GET', '/contact-policy')).body).toEqual({ accountId: ACCOUNT, channels: {}, version: 0 });
      } finally {
        // Opted back in everywhere, and the rule out of the other scenarios' way.
        await replyBySms(stack.urls.standIns, { from: client, body: 'START' });
        await api('DELETE', `/rules/${reminder.id}`);
        await contact.close();
      }
    });
  }

  scenario('serves the Rules API’s trigger routes by asking the trigger service: runs, stats, cancel, retry and HTTP intake, account by account', async () => {
    // A rule whose triggers wait an hour, so there is one to cancel.
    const later = await api<{ id: string }>('POST', '/rules', { ...technicianSmsRule({ smsDelay: { value: 1, unit: 'hours' } }), name: 'Follow up in an hour' });
    const job = { id: 'job_http', number: 'J-5541-http', status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } };
    const event = { name: 'job.status.changed', id: `${runId}-http`, payload: { job } };
    // The SMS rule reads the job from the CRM when it fires: the CRM has it, Done.
    await putJob(stack.urls.crm, ACCOUNT, job);
    if (stack.trigger.options.env['RULE_LOOKUP'] === 'pubsub') {
      // The replica forgets the SMS rule: the rules that come with an HTTP intake must put it back, or
      // its trigger would wait for the rule at fire time instead of sending.
      expect(await forgetReplicatedRule(smsRuleId)).toBe(1);
    }
    // HTTP intake at the rules service: matched against its rules there, stored by the trigger service.
    const accepted = await call('POST', '/events', { body: event });
    expect(accepted.status).toBe(202);
    const stored = accepted.body['triggers'] as Array<{ id: string; ruleId: string; status: string }>;
    expect(stored.map((t) => t.ruleId).sort()).toEqual([smsRuleId, later.id].sort());
    expect((await call('POST', '/events', { body: event })).body['triggers'].map((t: { id: string }) => t.id).sort()).toEqual(stored.map((t) => t.id).sort());
    await waitFor('the SMS of the HTTP-ingested event', async () => (await smsWithTag('http')).length === 1);
    const waiting = stored.find((t) => t.ruleId === later.id)?.id ?? '';
    const trigger = await call('GET', `/triggers/${waiting}`);
    expect(trigger.body).toMatchObject({ id: waiting, accountId: ACCOUNT, status: 'pending', triggeringEvent: { id: event.id, payload: { job } } });
    expect(Date.parse(trigger.body['evaluateAt']) - Date.parse(trigger.body['triggeringEvent']['timestamp'])).toBe(3_600_000);

    // Another account sees none of it, changes none of it, and its events match none of its rules.
    const missing = store === 'postgres' ? '999999999' : '0123456789abcdef01234567';
    for (const [method, suffix] of [['GET', ''], ['POST', '/cancel'], ['POST', '/retry']] as const) {
      const onA = await call(method, `/triggers/${waiting}${suffix}`, { key: other.key });
      const onMissing = await call(method, `/triggers/${missing}${suffix}`, { key: other.key });
      expect([onA.status, onA.body['error']?.['code']]).toEqual([404, 'CRM_ERR_TRIGGER_NOT_FOUND']);
      expect(JSON.stringify(onA.body).replaceAll(waiting, 'ID')).toBe(JSON.stringify(onMissing.body).replaceAll(missing, 'ID'));
    }
    expect((await call('GET', '/triggers?limit=500', { key: other.key })).body['items']).toEqual([]);
    expect((await call('GET', `/rules/${later.id}/stats`, { key: other.key })).status).toBe(404);
    expect((await call('POST', '/events', { key: other.key, body: { ...event, id: `${runId}-other` } })).body['triggers']).toEqual([]);
    expect((await call('GET', `/triggers/${waiting}`)).body['status']).toBe('pending');

    // Transitions go through the trigger service's engine, with its state rules.
    expect((await call('POST', `/triggers/${waiting}/retry`)).body['error']).toMatchObject({ code: 'CRM_ERR_TRIGGER_STATE' });
    const cancelled = await call('POST', `/triggers/${waiting}/cancel`);
    expect([cancelled.status, cancelled.body['status']]).toEqual([200, 'cancelled']);
    const twice = await call('POST', `/triggers/${waiting}/cancel`);
    expect([twice.status, twice.body['error']?.['code']]).toEqual([409, 'CRM_ERR_TRIGGER_STATE']);
    const stats = await call('GET', `/rules/${later.id}/stats`);
    expect(stats.body).toMatchObject({ ruleId: later.id, counts: { cancelled: 1, pending: 0, completed: 0 }, lastFiredAt: null, truncated: false });
    const smsStats = await call('GET', `/rules/${smsRuleId}/stats`);
    expect(smsStats.body['counts']['completed']).toBeGreaterThanOrEqual(2);
    expect(Date.parse(smsStats.body['lastFiredAt'])).toBeGreaterThan(Date.parse(trigger.body['createdAt']) - 1);
    // Out of the way of the other scenarios' job-done events.
    await api('DELETE', `/rules/${later.id}`);
  });

  scenario('survives kill -9 of the trigger service mid-work: every due trigger completes, nothing is sent twice', async () => {
    const tag = 'crash';
    const count = 16;
    // A slow SMS provider keeps sends in flight when the trigger service dies.
    await setStandInBehaviour(stack.urls.standIns, { smsDelayMs: 700 });
    try {
      await simulate('job-done', '--count', String(count), '--tag', tag);
      await waitFor('some SMS of the batch sent', async () => (await smsWithTag(tag)).length >= 2);
      const pidBefore = stack.trigger.pid;
      await stack.trigger.kill();
      expect(stack.trigger.running).toBe(false);
      await stack.trigger.start();
      expect(stack.trigger.pid).not.toBe(pidBefore);

      const triggers = await waitFor(`all ${count} triggers completed`, async () => {
        const all = await smsTriggersWithTag(tag);
        return all.length === count && all.every((t) => t.status === 'completed') ? all : undefined;
      }, 90_000);
      expect(triggers).toHaveLength(count);
      // The crash did interrupt work: triggers it held were claimed again after their lease expired.
      expect(triggers.some((t) => t.attempt >= 2)).toBe(true);
      await sleep(1_000);
      const expected = Array.from({ length: count }, (_, i) => smsText(`J-5541-${tag}-${i + 1}`)).sort();
      const arrived = (await smsWithTag(tag)).map((s) => s.body);
      // Never twice, whatever the crash cut.
      expect(arrived.filter((body, i) => arrived.indexOf(body) !== i)).toEqual([]);
      // A send the crash cut after its intent was recorded may or may not have reached the provider,
      // which cannot deduplicate it: it is `unknown` and held, not resent blindly. An operator who
      // checked the provider resolves it: resend when nothing arrived, sent when it did.
      for (const trigger of triggers) {
        const body = smsText(trigger.triggeringEvent.payload.job?.number ?? '');
        const last = ((await call('GET', `/triggers/${trigger.id}/deliveries`)).body['items'] as DeliveryView[]).at(-1);
        if (!arrived.includes(body)) expect(last?.state, `${body} did not arrive`).toBe('unknown');
        if (last?.state !== 'unknown') continue;
        const resolved = await call('POST', `/deliveries/${last.id}/resolve`, { body: { as: arrived.includes(body) ? 'sent' : 'resend', note: 'checked at the provider' } });
        expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
      }
      const bodies = await waitFor('every SMS of the batch, once', async () => {
        const all = (await smsWithTag(tag)).map((s) => s.body).sort();
        return all.length >= count ? all : undefined;
      });
      expect(bodies).toEqual(expected);
    } finally {
      await setStandInBehaviour(stack.urls.standIns, { smsDelayMs: 0 });
    }
  });

  scenario('the issue-15 fault: kill -9 of the notification service while an SMS is at the provider ends unknown and held, sent once, no in-flight retries', async () => {
    const tag = 'notify-kill';
    // The provider holds the request long enough to kill the service that made it.
    await setStandInBehaviour(stack.urls.standIns, { smsDelayMs: 2_000 });
    try {
      await simulate('job-done', '--tag', tag);
      const deliveriesOf = async (id: string) => (await call('GET', `/triggers/${id}/deliveries`)).body['items'] as DeliveryView[];
      const trigger = await waitFor('the send recorded as intent', async () => {
        const [t] = await smsTriggersWithTag(tag);
        return t && (await deliveriesOf(t.id)).some((d) => d.state === 'intent') ? t : undefined;
      }, 60_000);
      // The request has reached the provider stand-in (it answers after 2 s): the service dies holding it.
      await sleep(500);
      await stack.notification.kill();
      await waitFor('the provider took the message', async () => ((await smsWithTag(tag)).length === 1 ? true : undefined), 10_000);
      await stack.notification.start();
      // Longer than the trigger's first retries would take: nothing may send it again.
      await sleep(8_000);
      expect((await smsWithTag(tag)).map((s) => s.body)).toEqual([smsText(`J-5541-${tag}`)]);
      const sends = await deliveriesOf(trigger.id);
      expect(sends.map((d) => d.state)).toEqual(['unknown']);
      const [after] = await smsTriggersWithTag(tag);
      expect(after?.executionHistory.at(-1)).toMatchObject({ reason: 'delivery-unknown' });
      // Not one attempt was spent on "in flight" answers.
      expect(after?.executionHistory.flatMap((h) => h.actions ?? []).filter((a) => a.error?.code === 'CRM_ERR_IDEMPOTENCY_IN_FLIGHT')).toEqual([]);
      const resolved = await call('POST', `/deliveries/${sends[0]?.id}/resolve`, { body: { as: 'sent', note: 'in the provider console' } });
      expect([resolved.status, resolved.body['state']]).toEqual([200, 'accepted']);
    } finally {
      await setStandInBehaviour(stack.urls.standIns, { smsDelayMs: 0 });
    }
  });

  scenario('retries with backoff while the notification service is down, and completes once it is back', async () => {
    const tag = 'notify-down';
    await stack.notification.stop();
    await simulate('job-done', '--tag', tag);
    // The trigger comes due, fails on the unreachable service, and is rescheduled more than once.
    const retrying = await waitFor('the trigger retrying with backoff', async () => {
      const [t] = await smsTriggersWithTag(tag);
      const transient = t?.executionHistory.filter((h) => h.outcome === 'retrying' && h.reason === 'transient-error') ?? [];
      return t && t.status === 'retrying' && transient.length >= 2 ? t : undefined;
    }, 60_000);
    expect(retrying.executionHistory.every((h) => h.outcome === 'retrying')).toBe(true);
    expect(await smsWithTag(tag)).toHaveLength(0);

    await stack.notification.start();
    const done = await waitFor('the trigger completed', async () => {
      const [t] = await smsTriggersWithTag(tag);
      return t?.status === 'completed' ? t : undefined;
    }, 60_000);
    expect(done.attempt).toBeGreaterThanOrEqual(3);
    await sleep(500);
    expect((await smsWithTag(tag)).map((s) => s.body)).toEqual([smsText(`J-5541-${tag}`)]);
  });

  scenario('answers the trigger routes with a typed 503 while the trigger service is away, and goes on serving rules', async () => {
    await stack.trigger.stop();
    try {
      for (const [method, path] of [['GET', '/triggers'], ['GET', `/rules/${smsRuleId}/stats`], ['POST', '/triggers/1/cancel'], ['GET', '/suppressions'], ['GET', '/contact-policy']] as const) {
        const answer = await call(method, path);
        expect([method, path, answer.status, answer.body]).toEqual([method, path, 503, { error: { code: 'CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE', message: 'the trigger service is unavailable; retry later' } }]);
        expect(Number(answer.retryAfter)).toBeGreaterThan(0);
      }
      expect((await call('GET', `/rules/${smsRuleId}`)).status).toBe(200);
      const ready = await fetch(`${stack.urls.rules}/readyz`);
      const checks = ((await ready.json()) as { checks: Record<string, string> }).checks;
      expect([ready.status, checks['rules-db'], checks['trigger-service']?.startsWith('down')]).toEqual([200, 'ok', true]);
    } finally {
      await stack.trigger.start();
    }
    expect((await call('GET', `/triggers?ruleId=${smsRuleId}&limit=1`)).status).toBe(200);
  });

  describe.each(outages)('with %s rule lookup', (pattern) => {
    scenario('keeps running while the rules service is down and catches up when it is back', async () => {
      if (stack.trigger.options.env['RULE_LOOKUP'] !== pattern) await restartTrigger(pattern);

      // The pattern works: a first event goes through.
      await simulate('job-done', '--tag', `${pattern}-warm`);
      await waitFor(`the ${pattern} warm-up SMS`, async () => (await smsWithTag(`${pattern}-warm`)).length === 1);

      // A trigger stored before the outage and due during it (fire-time re-read of the rule).
      await simulate('job-done', '--tag', `${pattern}-due`);
      await waitFor('the trigger stored', async () => (await smsTriggersWithTag(`${pattern}-due`)).length === 1);
      await stack.rules.stop();

      // Events arriving during the outage (intake lookup).
      await simulate('job-done', '--count', '3', '--tag', `${pattern}-down`);
      await sleep((SMS_DELAY_S + 2) * 1_000);
      expect(stack.trigger.running).toBe(true);
      const health = await fetch(`${stack.urls.trigger}/healthz`);
      expect(health.status).toBe(200);
      if (pattern !== 'pubsub') {
        // No rules service, no lookups: the events wait (the bus redelivers them).
        expect(await smsWithTag(`${pattern}-down`)).toHaveLength(0);
      }

      await stack.rules.start();
      const expected = [smsText(`J-5541-${pattern}-due`), ...[1, 2, 3].map((i) => smsText(`J-5541-${pattern}-down-${i}`))].sort();
      await waitFor(`the ${pattern} SMS after the outage`, async () => {
        const got = [...(await smsWithTag(`${pattern}-due`)), ...(await smsWithTag(`${pattern}-down`))];
        return got.length >= expected.length;
      }, 90_000);
      await sleep(1_000);
      const got = [...(await smsWithTag(`${pattern}-due`)), ...(await smsWithTag(`${pattern}-down`))].map((s) => s.body).sort();
      expect(got).toEqual(expected);
      const triggers = [...(await smsTriggersWithTag(`${pattern}-due`)), ...(await smsTriggersWithTag(`${pattern}-down`))];
      expect(triggers.map((t) => t.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    });
  });

  scenario('keeps each service to its own database: rules in the rules service’s, triggers in the trigger service’s', async () => {
    const rules = await storageOf(names.rules);
    const triggers = await storageOf(names.triggers);
    if (store === 'postgres') {
      expect(rules).toEqual(['rules', 'schema_migrations']);
      // rule_replica: the pub/sub lookup's copy of the rules, the trigger service's own; deliveries: its
      // ledger; contact_* to suppression_*: the contact data its engine reads at fire time.
      expect(triggers).toEqual(['contact_counts', 'contact_policies', 'deliveries', 'rule_replica', 'schema_migrations', 'send_throttles', 'suppression_changes', 'suppressions', 'triggers']);
      expect(await storageOf(names.notify)).toEqual(['idempotency_keys', 'schema_migrations']);
    } else {
      expect(rules).toEqual(['rules']);
      // contact_policies has no index beside _id, so MongoDB creates it with the first policy (none here).
      expect(triggers).toEqual(['contact_counters', 'deliveries', 'pending_triggers', 'rule_replica', 'send_throttles', 'suppression_changes', 'suppressions']);
    }
  });

  scenario('serves the Management UI next to the Rules API once the UI is built', async () => {
    const built = existsSync(join(dirname(createRequire(import.meta.url).resolve('@crm-automation/ui/package.json')), 'dist', 'app', 'index.html'));
    const response = await fetch(`${stack.urls.rules}/ui/`);
    expect(response.status).toBe(built ? 200 : 404);
    if (built) expect(await response.text()).toContain('<base href="/ui/"');
  });

  scenario('serves Prometheus metrics on every service: triggers by outcome, bus backlog, gateway latency by provider, HTTP by route', async () => {
    /** The value of the first series named `name` whose labels include `labels` (any order). */
    const scrape = async (url: string) => {
      const response = await fetch(`${url}/metrics`);
      expect(response.status).toBe(200);
      const series = (await response.text())
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => {
          const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
          const labels = Object.fromEntries([...(match?.[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
          return { name: match?.[1], labels, value: Number(match?.[3]) };
        });
      return (name: string, labels: Record<string, string> = {}) =>
        series.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    };
    const trigger = await scrape(stack.urls.trigger);
    expect(trigger('crm_triggers_finished_total', { status: 'completed', service: 'trigger-service' })).toBeGreaterThan(0);
    expect(trigger('crm_trigger_fire_lag_seconds_count')).toBeGreaterThan(0);
    expect(trigger('crm_bus_backlog_messages', { bus: 'events' })).toBeGreaterThanOrEqual(0);
    expect(trigger('crm_bus_stats_failures', { bus: 'events' })).toBe(0);
    // Per provider: the one the notification service says took the message, not the service itself.
    expect(trigger('crm_gateway_request_duration_seconds_count', { provider: 'twilio', type: 'sms', outcome: 'sent' })).toBeGreaterThan(0);
    expect(trigger('crm_gateway_request_duration_seconds_count', { provider: 'notification-service', outcome: 'sent' })).toBeUndefined();
    expect(trigger('crm_deliveries_total', { provider: 'twilio', type: 'sms', state: 'delivered' })).toBeGreaterThan(0);
    const notification = await scrape(stack.urls.notification);
    expect(notification('crm_gateway_request_duration_seconds_count', { provider: 'twilio', type: 'sms', outcome: 'sent', service: 'notification-service' })).toBeGreaterThan(0);
    expect(notification('crm_http_requests_total', { method: 'POST', route: '/api/v1/sms', status: '200' })).toBeGreaterThan(0);
    // The rules service was restarted by the outage tests: make a request its new process counts.
    await api('GET', `/rules/${smsRuleId}`);
    const rules = await scrape(stack.urls.rules);
    expect(rules('crm_http_requests_total', { service: 'rules-service', method: 'GET', route: '/rules/:id', status: '200' })).toBeGreaterThan(0);
  });

  scenario('every service answers malformed requests with { error: { code, message } }, over real HTTP', async () => {
    const services = [
      { base: stack.urls.rules, requests: malformedRequests({ bodyRoute: '/rules', headers: { authorization: `Bearer ${secrets.devApiKey}` }, bodyLimit: 256 * 1024, knownPaths: ['/rules', '/internal/v1/rules'], idRoute: '/rules' }) },
      { base: stack.urls.notification, requests: malformedRequests({ bodyRoute: '/api/v1/sms', headers: { authorization: `Bearer ${secrets.notificationToken}` }, bodyLimit: 256 * 1024, knownPaths: ['/api/v1', '/readyz'] }) },
      { base: stack.urls.trigger, requests: malformedRequests({ bodyRoute: '/internal/v1/triggers/list', headers: { authorization: `Bearer ${secrets.triggerServiceToken}` }, bodyLimit: 1024 * 1024, knownPaths: ['/healthz', '/metrics', '/internal/v1/triggers'] }) },
    ];
    for (const { base, requests } of services) {
      for (const request of requests) expectErrorBody(await sendRawRequest(base, request.method, request.url, request.headers, request.payload), request);
      // A request line Node's parser refuses.
      const answer = await new Promise<string>((resolve, reject) => {
        const url = new URL(base);
        const socket = tcpConnect({ host: url.hostname, port: Number(url.port) }, () => socket.write('NOT A REQUEST\r\n\r\n'));
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'CRM_ERR_HTTP_BAD_REQUEST' } });
    }
  });

  scenario('logs carry accountId, ruleId and triggerId', () => {
    const sent = logs.filter((l) => l.startsWith('[trigger]') && l.includes('"msg":"action sent"'));
    expect(sent.length).toBeGreaterThan(0);
    const entry = JSON.parse((sent[0] as string).slice('[trigger] '.length)) as Record<string, unknown>;
    expect(entry).toMatchObject({ service: 'trigger-service', accountId: ACCOUNT, ruleId: expect.any(String), triggerId: expect.any(String) });
    const notified = logs.find((l) => l.startsWith('[notification]') && l.includes('"msg":"notification sent"'));
    expect(notified).toBeDefined();
    expect(JSON.parse((notified as string).slice('[notification] '.length))).toMatchObject({ accountId: ACCOUNT, triggerId: expect.any(String), ruleId: expect.any(String) });
  });
});
