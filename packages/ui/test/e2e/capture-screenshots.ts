import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '@crm-automation/core';
import type { Page } from 'playwright-core';
import { highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { reminderSchedule, reminderTrigger } from '../appointment-reminder.js';
import { ensureBuiltApp, ensureChromium, launchBrowser } from './browser.js';
import { startRulesService, type RulesService } from './rules-service.js';

const VIEWPORTS = {
  desktop: { width: 1280, height: 860 },
  mobile: { width: 360, height: 760 },
} as const;

interface Seeded {
  highValueId: string;
  smsId: string;
  /** A keyed rule (debounced by job, cancelled on re-opening) with superseded and cancelled runs. */
  keyedId: string;
  /** An appointment reminder (a day before, 09:00 in the client's zone) with a rescheduled and a skipped run. */
  scheduledId: string;
}

/** Rules and runs of every outcome, so the screens show what a real account looks like. */
async function seed(service: RulesService): Promise<Seeded> {
  const hv = await service.api<{ id: string }>('POST', '/rules', highValueJobRule);
  const sms = await service.api<{ id: string }>('POST', '/rules', technicianSmsRule);
  await service.api('POST', '/rules', {
    ...technicianSmsRule,
    name: 'Ask the client for a review the day after an invoice is paid in full',
    description: 'Sends a short thank-you SMS with the review link to the client.',
    enabled: false,
    trigger: { eventName: 'invoice.paid' },
    delay: { value: 1, unit: 'days' },
    conditions: { all: [{ fact: 'invoice', path: '$.balance', operator: 'equal', value: 0 }] },
    actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'invoice', path: '$.client.phone' }, message: 'Thanks {{invoice.client.name}}! Tell us how we did: {{invoice.reviewUrl}}' } }],
  });
  const job = (total: number, type: string, n: number) => ({ job: { id: `job_${n}`, number: `J-${9000 + n}`, total, client: { name: 'Acme Corp', type } } });
  await service.api('POST', '/events', { name: 'job.created', payload: job(2450, 'Commercial', 1) });
  await waitForRuns(service, hv.body.id, 1);
  await service.api('POST', '/events', { name: 'job.created', payload: job(640, 'Commercial', 2) });
  await waitForRuns(service, hv.body.id, 2);
  service.channels.email.failNext(new GatewayError('550 mailbox unavailable', { retryable: false, provider: 'smtp', status: 550 }));
  await service.api('POST', '/events', { name: 'job.created', payload: job(3100, 'Commercial', 3) });
  await waitForRuns(service, hv.body.id, 3);
  await service.api('POST', '/events', { name: 'job.status.changed', payload: { job: { id: 'job_abc123', number: 'J-5541', status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } } });
  const keyed = await service.api<{ id: string }>('POST', '/rules', {
    ...technicianSmsRule,
    name: 'Job done SMS, once per job',
    description: 'Debounced by job: quick status changes send one SMS; re-opening the job cancels it.',
    trigger: { eventName: 'job.status.changed', key: '$.job.id' },
    concurrency: { mode: 'supersede', maxWait: { value: 15, unit: 'minutes' } },
    cancelOn: [{ eventName: 'job.reopened' }],
    conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }, { fact: 'job', path: '$.assignedTechnician.phone', operator: 'present', value: true }] },
  });
  // Three quick changes of one job (the first two replaced), and a job re-opened before its run.
  const now = Date.now();
  const done = (id: string, number: string) => ({ job: { id, number, status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } });
  for (const [i, seconds] of [0, 20, 40].entries()) {
    await service.api('POST', '/events', { name: 'job.status.changed', id: `quick-${i}`, payload: done('job_7001', 'J-7001'), timestamp: new Date(now + seconds * 1000).toISOString() });
  }
  await service.api('POST', '/events', { name: 'job.status.changed', id: 'done-7002', payload: done('job_7002', 'J-7002'), timestamp: new Date(now).toISOString() });
  await service.api('POST', '/events', { name: 'job.reopened', id: 'reopen-7002', payload: done('job_7002', 'J-7002'), timestamp: new Date(now + 60_000).toISOString() });
  const scheduled = await service.api<{ id: string }>('POST', '/rules', {
    name: 'Remind the client the day before the appointment',
    description: 'At 09:00 in the client’s time zone, on a business day; moves when the appointment moves.',
    trigger: reminderTrigger,
    schedule: reminderSchedule,
    conditions: { all: [] },
    actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'Reminder: {{client.name}}, your appointment is tomorrow.' } }],
  });
  // Booked, then moved a week later (rescheduled); another booked without a date (skipped).
  const day = (days: number) => new Date(Math.floor(now / 86_400_000) * 86_400_000 + days * 86_400_000 + 15 * 3_600_000).toISOString();
  const client = { name: 'John Smith', phone: '+15557654321', timeZone: 'America/New_York' };
  await service.api('POST', '/events', { name: 'appointment.booked', id: 'book-1', payload: { appointment: { id: 'ap_1', startsAt: day(10) }, client }, timestamp: new Date(now).toISOString() });
  await service.api('POST', '/events', { name: 'appointment.booked', id: 'move-1', payload: { appointment: { id: 'ap_1', startsAt: day(17) }, client }, timestamp: new Date(now + 1_000).toISOString() });
  await service.api('POST', '/events', { name: 'appointment.booked', id: 'book-2', payload: { appointment: { id: 'ap_2' }, client }, timestamp: new Date(now).toISOString() });
  return { highValueId: hv.body.id, smsId: sms.body.id, keyedId: keyed.body.id, scheduledId: scheduled.body.id };
}

async function waitForRuns(service: RulesService, ruleId: string, finished: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { body } = await service.api<{ items: Array<{ status: string }> }>('GET', `/triggers?ruleId=${ruleId}`);
    if (body.items.filter((t) => ['completed', 'skipped', 'failed'].includes(t.status)).length >= finished) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`runs of ${ruleId} did not finish`);
}

async function signIn(page: Page, service: RulesService): Promise<void> {
  await page.goto(service.uiUrl);
  await page.getByLabel('API key', { exact: true }).fill(service.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.rule-item').first().waitFor();
}

/**
 * Takes the README's screenshots of the main screens, at desktop and 360 px width, against the same
 * loopback service as the end-to-end tests. Returns the files written.
 */
export async function captureScreenshots(outDir: string): Promise<string[]> {
  ensureChromium();
  ensureBuiltApp();
  mkdirSync(outDir, { recursive: true });
  const service = await startRulesService();
  const written: string[] = [];
  try {
    const { highValueId, smsId, keyedId, scheduledId } = await seed(service);
    for (const [size, viewport] of Object.entries(VIEWPORTS)) {
      const browser = await launchBrowser(viewport);
      try {
        const page = browser.context.pages()[0] ?? (await browser.context.newPage());
        page.setDefaultTimeout(20_000);
        const shot = async (name: string, options: { fullPage?: boolean; maxHeight?: number } = {}) => {
          const path = join(outDir, `${name}-${size}.png`);
          // Let counts, relative times and fonts settle; no animation is running.
          await page.waitForTimeout(300);
          const height = Number(await page.evaluate('document.documentElement.scrollHeight'));
          if (options.maxHeight && height > options.maxHeight) {
            await page.screenshot({ path, fullPage: true, clip: { x: 0, y: 0, width: viewport.width, height: options.maxHeight } });
          } else {
            await page.screenshot({ path, fullPage: options.fullPage ?? true });
          }
          written.push(path);
        };

        await page.goto(service.uiUrl);
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        await shot('sign-in', { fullPage: false });

        await signIn(page, service);
        await page.locator('.run-counts').first().waitFor();
        await shot('rules-list');

        await page.goto(`${service.uiUrl}rules/${highValueId}`);
        await page.locator('.action-card').first().waitFor();
        await shot('rule-editor', { maxHeight: size === 'mobile' ? 2600 : 3400 });

        await page.goto(`${service.uiUrl}rules/${smsId}`);
        await page.getByRole('button', { name: 'Run test' }).click();
        await page.locator('.dry-run').waitFor();
        await page.mouse.move(0, 0);
        if (size === 'mobile') {
          // The sticky top bar would cover the panel's top in an element screenshot.
          await page.evaluate(`document.querySelector('.topbar').style.setProperty('position', 'static')`);
          await page.locator('.test-panel').screenshot({ path: join(outDir, `dry-run-${size}.png`) });
          written.push(join(outDir, `dry-run-${size}.png`));
        } else {
          await shot('dry-run', { maxHeight: 1500 });
        }

        await page.goto(`${service.uiUrl}rules/${highValueId}/runs`);
        const failed = page.locator('.run', { has: page.locator('.badge--failed') });
        await failed.waitFor();
        await failed.getByRole('button', { name: /^History/ }).click();
        await failed.locator('.history').waitFor();
        await shot('runs', { maxHeight: size === 'mobile' ? 3000 : 2400 });

        await page.goto(`${service.uiUrl}rules/${keyedId}`);
        await page.locator('.action-card').first().waitFor();
        // The sticky top bar would cover the card's top in an element screenshot.
        await page.evaluate(`document.querySelector('.topbar').style.setProperty('position', 'static')`);
        await page.locator('section[aria-labelledby="entity-heading"]').screenshot({ path: join(outDir, `entity-rule-${size}.png`) });
        written.push(join(outDir, `entity-rule-${size}.png`));

        await page.goto(`${service.uiUrl}rules/${keyedId}/runs`);
        await page.locator('.run__why').first().waitFor();
        const replaced = page.locator('.run', { has: page.locator('.run__why') }).first();
        await replaced.getByRole('button', { name: /^History/ }).click();
        await replaced.locator('.history').waitFor();
        await shot('entity-runs', { maxHeight: size === 'mobile' ? 3000 : 2000 });

        await page.goto(`${service.uiUrl}rules/${scheduledId}`);
        await page.locator('.schedule__words').waitFor();
        await page.evaluate(`document.querySelector('.topbar').style.setProperty('position', 'static')`);
        await page.locator('section[aria-labelledby="when-heading"]').screenshot({ path: join(outDir, `schedule-rule-${size}.png`) });
        written.push(join(outDir, `schedule-rule-${size}.png`));

        await page.goto(`${service.uiUrl}rules/${scheduledId}/runs`);
        const pending = page.locator('.run', { has: page.locator('.badge--pending') }).first();
        await pending.waitFor();
        await pending.getByRole('button', { name: /^History/ }).click();
        await pending.locator('.history').waitFor();
        // The sticky top bar would be drawn over the middle of a full-page screenshot at 360 px.
        await page.evaluate(`document.querySelector('.topbar').style.setProperty('position', 'static')`);
        await shot('schedule-runs', { maxHeight: size === 'mobile' ? 3000 : 2000 });
      } finally {
        await browser.close();
      }
    }
  } finally {
    await service.close();
  }
  return written;
}
