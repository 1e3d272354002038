/**
 * The CRM simulator's job API and the trigger service's `facts.job` loader over real HTTP on
 * loopback: current state, a missing job, a CRM that hangs or is down (timeout, circuit breaker), and
 * the example's SMS rule on an in-process engine reading the job from it. The services test runs the
 * same scenarios on the running processes and a real bus.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asUntrustedRule, createAutomationEngine, createMemoryStore, createRecordingChannel, type AutomationEvent, type FactLoaderContext, type Trigger } from '@crm-automation/core';
import type { FastifyInstance } from 'fastify';
import { getJob, putJob, setJobStatus } from '../src/crm-simulator/crm-client.js';
import { crmRoutes } from '../src/crm-simulator/crm-routes.js';
import { JobBook, type Job } from '../src/crm-simulator/job-book.js';
import { technicianSmsRule } from '../src/design-doc-rules.js';
import { createHttpServer, listen } from '../src/runtime/http-server.js';
import { createServiceLogger } from '../src/runtime/logger.js';
import { crmJobLoader } from '../src/trigger-service/crm-job-loader.js';
import { sleep, waitFor } from './support/wait-for.js';

const ACCOUNT = 'acc_12345';
const logger = createServiceLogger('test', 'silent');
const job = (id: string, status = 'In Progress'): Job => ({ id, number: `J-${id}`, status, client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } });

/** What a loader is called with for a trigger of `jobId` (only the fields the loader reads matter). */
const contextFor = (jobId: string | undefined, signal = new AbortController().signal): FactLoaderContext => ({
  accountId: ACCOUNT,
  fact: 'job',
  event: { id: 'e1', name: 'job.status.changed', timestamp: new Date(), payload: { job: { id: 'from-the-event' } } },
  trigger: {} as Trigger,
  ...(jobId === undefined ? {} : { entityKey: jobId }),
  signal,
});

let app: FastifyInstance;
let crmUrl: string;
const published: AutomationEvent[] = [];
/** Where published events go next: an engine's intake in the engine test. */
let onPublish: (event: AutomationEvent) => Promise<unknown> = async () => undefined;

beforeAll(async () => {
  app = createHttpServer(logger);
  await app.register(crmRoutes, {
    jobs: new JobBook(),
    publish: async (event) => {
      published.push(event);
      return onPublish(event);
    },
    logger,
  });
  crmUrl = `http://127.0.0.1:${await listen(app, '127.0.0.1', 0)}`;
});
afterAll(() => app.close());

describe('the CRM simulator job API', () => {
  it('saves a status change, then publishes it with the whole job, in strictly increasing time', async () => {
    await putJob(crmUrl, ACCOUNT, job('api-1'));
    expect(published.filter((e) => (e.payload['job'] as Job).id === 'api-1')).toEqual([]);
    const changes = await Promise.all(['Done', 'In Progress', 'Done'].map((status) => setJobStatus(crmUrl, ACCOUNT, 'api-1', status)));
    const events = published.filter((e) => (e.payload['job'] as Job).id === 'api-1');
    expect(events.map((e) => e.id).sort()).toEqual(changes.map((c) => c.event.id).sort());
    expect(events.every((e) => e.name === 'job.status.changed' && e.accountId === ACCOUNT && (e.payload['job'] as Job).number === 'J-api-1')).toBe(true);
    const times = events.map((e) => Date.parse(String(e.timestamp)));
    expect(new Set(times).size).toBe(3);
    const last = events.at(-1)?.payload['job'] as Job;
    expect(await getJob(crmUrl, ACCOUNT, 'api-1')).toEqual(last);
  });

  it('keeps accounts apart, and says which resource is missing', async () => {
    await putJob(crmUrl, ACCOUNT, job('api-2'));
    expect(await getJob(crmUrl, 'acc_other', 'api-2')).toBeNull();
    const missing = await fetch(`${crmUrl}/accounts/${ACCOUNT}/jobs/nope/status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":"Done"}' });
    expect([missing.status, await missing.json()]).toEqual([404, { error: { code: 'CRM_ERR_HTTP_NOT_FOUND', message: `no job nope in account ${ACCOUNT}` }, resource: 'job' }]);
    const bad = await fetch(`${crmUrl}/accounts/${ACCOUNT}/jobs/api-2/status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":""}' });
    expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).toEqual([400, 'CRM_ERR_HTTP_BAD_REQUEST']);
  });
});

describe('the facts.job loader', () => {
  const options = { timeoutMs: 300, breakerFailures: 2, breakerCooldownMs: 60_000, logger };

  it('reads the job of the trigger’s entity as the CRM has it now; a job the CRM does not have is null', async () => {
    const { load } = crmJobLoader({ baseUrl: crmUrl, ...options });
    await putJob(crmUrl, ACCOUNT, job('load-1'));
    await setJobStatus(crmUrl, ACCOUNT, 'load-1', 'Done');
    expect(await load(contextFor('load-1'))).toMatchObject({ id: 'load-1', status: 'Done' });
    expect(await load(contextFor('load-404'))).toBeNull();
    // Without an entity key (a keyed rule whose event had none): the event's job id.
    expect(await load(contextFor(undefined))).toBeNull();
  });

  it('fails (to be retried) on a 404 that is not the CRM’s, on a CRM that hangs, and fails fast once the circuit is open', async () => {
    const notCrm = crmJobLoader({ baseUrl: `${crmUrl}/wrong-prefix`, ...options });
    await expect(notCrm.load(contextFor('load-1'))).rejects.toThrow(/without naming a job/);

    const hanging: Server = createServer(() => {
      // Never answers.
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const { load, breaker } = crmJobLoader({ baseUrl: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`, ...options });
      const started = Date.now();
      await expect(load(contextFor('load-1'))).rejects.toThrow();
      await expect(load(contextFor('load-1'))).rejects.toThrow();
      expect(Date.now() - started).toBeGreaterThanOrEqual(2 * options.timeoutMs - 50);
      expect(breaker.state).toBe('open');
      const refusedAt = Date.now();
      await expect(load(contextFor('load-1'))).rejects.toThrow(/^CRM circuit open/);
      expect(Date.now() - refusedAt).toBeLessThan(options.timeoutMs);
    } finally {
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging.close(resolve));
    }
  });

  it('gives up when the engine aborts the load (its factTimeoutMs), even before its own timeout', async () => {
    const hanging: Server = createServer(() => {});
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const { load } = crmJobLoader({ baseUrl: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`, ...options, timeoutMs: 30_000 });
      const controller = new AbortController();
      const loading = load(contextFor('load-1', controller.signal));
      controller.abort(new Error('factTimeoutMs'));
      await expect(loading).rejects.toThrow();
    } finally {
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging.close(resolve));
    }
  });
});

describe('the example SMS rule on an engine reading the CRM', () => {
  it('sends nothing for a job re-opened before the delay, and one SMS for three quick changes to Done', async () => {
    const sms = createRecordingChannel();
    const { load } = crmJobLoader({ baseUrl: crmUrl, timeoutMs: 2_000, breakerFailures: 5, breakerCooldownMs: 1_000, logger });
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms }, facts: { job: load }, pollIntervalMs: 50 });
    // As the Rules API takes it: a JSON document, validated at run time.
    const rule = await engine.rules.create(ACCOUNT, asUntrustedRule(technicianSmsRule({ smsDelay: { value: 1, unit: 'seconds' } })));
    onPublish = (event) => engine.ingest(event);
    await engine.start();
    try {
      await putJob(crmUrl, ACCOUNT, job('re-opened'));
      await setJobStatus(crmUrl, ACCOUNT, 're-opened', 'Done');
      await setJobStatus(crmUrl, ACCOUNT, 're-opened', 'In Progress');
      await putJob(crmUrl, ACCOUNT, job('flapping'));
      for (const status of ['Done', 'Scheduled', 'Done', 'Scheduled', 'Done']) await setJobStatus(crmUrl, ACCOUNT, 'flapping', status);

      const finished = await waitFor('both jobs’ last runs final', async () => {
        const { items } = await engine.triggers.list(ACCOUNT, { ruleId: rule.id });
        const open = items.filter((t) => t.status === 'pending' || t.status === 'processing' || t.status === 'retrying');
        return items.length === 7 && open.length === 0 ? items : undefined;
      }, 10_000);
      await sleep(200);
      expect(sms.sent.map((c) => (c.params as { message: string }).message)).toEqual(['Hi Jane Doe, job #J-flapping for John Smith has been completed.']);
      const byJob = (key: string) => finished.filter((t) => t.entityKey === key).map((t) => t.status).sort();
      expect(byJob('re-opened')).toEqual(['cancelled', 'skipped']);
      expect(byJob('flapping')).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled', 'completed']);
    } finally {
      onPublish = async () => undefined;
      await engine.stop();
    }
  });
});
