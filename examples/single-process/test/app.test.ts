import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody, malformedRequests, sendRawRequest } from '@crm-automation/testing';
import { startApp, type AppProcess } from './support/app-process.js';

const KEY = 'crm_dev_single_process_app_test';

describe('npm run app (in memory, console gateways)', () => {
  let app: AppProcess;
  let base = '';
  let output = () => '';
  const api = (method: string, path: string, body?: unknown) => app.api(method, path, body);
  const waitForOutput = (text: string) => app.waitForOutput(text);

  beforeAll(async () => {
    app = await startApp(KEY, {});
    base = app.base;
    output = app.output;
  }, 60_000);

  afterAll(async () => {
    if (app && app.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await app.exited();
    }
  });

  it('serves the Rules API with the design doc rules seeded', async () => {
    const { status, body } = await api('GET', '/rules');
    expect(status).toBe(200);
    expect((body['items'] as Array<{ name: string }>).map((r) => r.name).sort()).toEqual(['Alert on New High-Value Job', 'Notify Technician 5 Mins After Job Completion']);
    expect((await fetch(`${base}/rules`)).status).toBe(401);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('takes events over HTTP and sends what the rules say, through the console gateways', async () => {
    const highValue = await api('POST', '/events', { name: 'job.created', id: 'evt-hv', payload: { job: { id: 'job_hv_1', number: 'J-9001', total: 2500, client: { name: 'Acme Corp', type: 'Commercial' } } } });
    expect(highValue.status).toBe(202);
    await waitForOutput('-> Email to manager@CRM.com: "New High-Value Job: #J-9001"');
    await waitForOutput('"jobId":"job_hv_1","clientName":"Acme Corp","value":"2500"');

    const done = await api('POST', '/events', {
      name: 'job.status.changed',
      id: 'evt-done',
      payload: { job: { id: 'job_abc123', number: 'J-5541', status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } },
    });
    expect(done.status).toBe(202);
    const [trigger] = done.body['triggers'] as Array<{ id: string; status: string; evaluateAt: string }>;
    expect(trigger?.status).toBe('pending');
    // Due five minutes after the event: the SMS waits, nothing is sent yet.
    expect(Date.parse(trigger?.evaluateAt ?? '') - Date.now()).toBeGreaterThan(4 * 60_000);
    expect(output()).not.toContain('-> SMS');
  });

  it('serves Prometheus metrics: events ingested, triggers by outcome, HTTP requests by route', async () => {
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/crm_events_ingested_total\{outcome="matched",service="single-process"\} [1-9]/);
    expect(text).toMatch(/crm_triggers_finished_total\{status="completed",reason="none",service="single-process"\} [1-9]/);
    expect(text).toMatch(/crm_http_requests_total\{service="single-process",method="POST",route="\/events",status="202"\} [1-9]/);
  });

  it('prints where it listens, the Management UI and the key, and redirects / to the UI', async () => {
    expect(output()).toContain(`  listening on ${base}\n  Management UI:  ${base}/ui/`);
    expect(output()).toContain(`  API key for account acc_12345 (development, from DEV_API_KEY):  ${KEY}\n`);
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui/');
  });

  it('serves the Management UI at /ui once it is built, and a page saying how to build it when it is not', async () => {
    const built = existsSync(join(dirname(createRequire(import.meta.url).resolve('@crm-automation/ui/package.json')), 'dist', 'app', 'index.html'));
    for (const path of ['/ui', '/ui/', '/']) {
      const response = await fetch(`${base}${path}`);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
      const page = await response.text();
      if (built) {
        expect(response.status, path).toBe(200);
        expect(page).toContain('<base href="/ui/" />');
      } else {
        expect(response.status, path).toBe(503);
        expect(page).toContain('npm run build -w @crm-automation/ui');
      }
    }
    if (!built) {
      expect(output()).toContain('Management UI not built');
      expect(output()).toContain('(not built yet: npm run build -w @crm-automation/ui, then restart)');
    }
  });

  // The Rules API's body limit (256 KiB) and the app's other routes (/readyz, /metrics).
  it.each(
    malformedRequests({ bodyRoute: '/rules', headers: { authorization: `Bearer ${KEY}` }, bodyLimit: 256 * 1024, knownPaths: ['/rules', '/triggers', '/readyz', '/metrics'], idRoute: '/rules' }).map((r) => [r.name, r] as const),
  )('answers %s with { error: { code, message } }', async (_name, request) => {
    expectErrorBody(await sendRawRequest(base, request.method, request.url, request.headers, request.payload), request);
  });

  it('stops gracefully on SIGTERM', async () => {
    app.child.kill('SIGTERM');
    expect(await app.exited()).toBe(0);
  });
});
