/**
 * `npm run app` on each durable store it can be configured with (STORE=mongo, STORE=postgres), each
 * on a database or schema of its own: the same API and sends as in memory, and data that outlives a
 * restart (the seeded rules are not seeded twice, a trigger stored before is still there).
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp, type AppProcess } from './support/app-process.js';

const KEY = 'crm_dev_single_process_store_test';
const run = `app_${randomBytes(4).toString('hex')}`;

/** A server the services run gives (scripts/test-services.sh); missing, the test fails saying so. */
function server(name: 'MONGODB_URI' | 'POSTGRES_URL'): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run with bash scripts/test-services.sh (it starts the servers)`);
  return value;
}

const STORES: Array<[store: string, env: () => Record<string, string>, drop: () => Promise<void>]> = [
  [
    'mongo',
    () => ({ STORE: 'mongo', MONGODB_URI: server('MONGODB_URI'), MONGODB_DB: run }),
    async () => {
      const client = new MongoClient(server('MONGODB_URI'));
      try {
        await client.db(run).dropDatabase();
      } finally {
        await client.close();
      }
    },
  ],
  [
    'postgres',
    () => ({ STORE: 'postgres', POSTGRES_URL: server('POSTGRES_URL'), POSTGRES_SCHEMA: run }),
    async () => {
      const pool = new pg.Pool({ connectionString: server('POSTGRES_URL'), max: 1 });
      try {
        await pool.query(`DROP SCHEMA IF EXISTS "${run}" CASCADE`);
      } finally {
        await pool.end();
      }
    },
  ],
];

describe.each(STORES)('npm run app with STORE=%s', (store, env, drop) => {
  let app: AppProcess | undefined;

  afterAll(async () => {
    if (app && app.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await app.exited();
    }
    await drop().catch(() => undefined);
  });

  it('serves the Rules API, sends through the console gateways, and keeps its data across a restart', async () => {
    app = await startApp(KEY, { ...env(), SEED_RULES: 'true' });
    const rules = await app.api('GET', '/rules');
    expect((rules.body['items'] as Array<{ name: string }>).map((r) => r.name).sort()).toEqual(['Alert on New High-Value Job', 'Notify Technician 5 Mins After Job Completion']);
    const ready = await fetch(`${app.base}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { [store]: 'ok' } });

    const highValue = await app.api('POST', '/events', { name: 'job.created', id: 'evt-hv', payload: { job: { id: 'job_hv_1', number: 'J-9001', total: 2500, client: { name: 'Acme Corp', type: 'Commercial' } } } });
    expect(highValue.status).toBe(202);
    await app.waitForOutput('-> Email to manager@CRM.com: "New High-Value Job: #J-9001"');
    const done = await app.api('POST', '/events', {
      name: 'job.status.changed',
      id: 'evt-done',
      payload: { job: { id: 'job_abc123', number: 'J-5541', status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } },
    });
    const [waiting] = done.body['triggers'] as Array<{ id: string; status: string }>;
    expect(waiting?.status).toBe('pending');
    app.child.kill('SIGTERM');
    expect(await app.exited()).toBe(0);

    app = await startApp(KEY, { ...env(), SEED_RULES: 'true' });
    expect(((await app.api('GET', '/rules')).body['items'] as unknown[]).length).toBe(2);
    expect((await app.api('GET', `/triggers/${waiting?.id ?? ''}`)).body).toMatchObject({ id: waiting?.id, status: 'pending' });
    const sent = (await app.api('GET', '/triggers?status=completed')).body['items'] as Array<{ triggeringEvent: { id: string } }>;
    expect(sent.map((t) => t.triggeringEvent.id)).toEqual(['evt-hv']);
    // The same event again is a redelivery: nothing new is stored or sent.
    expect((await app.api('POST', '/events', { name: 'job.created', id: 'evt-hv', payload: { job: { id: 'job_hv_1', number: 'J-9001', total: 2500, client: { name: 'Acme Corp', type: 'Commercial' } } } })).status).toBe(202);
    expect(((await app.api('GET', '/triggers?limit=500')).body['items'] as unknown[]).length).toBe(2);
    app.child.kill('SIGTERM');
    expect(await app.exited()).toBe(0);
  });
});
