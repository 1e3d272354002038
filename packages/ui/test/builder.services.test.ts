/**
 * One file, one browser session: each test goes on from the rules and runs the one before it made.
 *
 * The Automation Builder in a real browser (Debian's Chromium, headless) against a real rules service
 * on loopback: `rulesRoutes` over an engine with a memory store, recording gateways and the claim
 * loop running, and the BUILT app served by `managementUi`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GatewayError } from '@crm-automation/core';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { fieldId } from '../app/model/issue-path.js';
import type { ManagementUiOptions } from '../src/index.js';
import { reminderSchedule } from './appointment-reminder.js';
import { describeViolations, distDir, ensureBuiltApp, ensureChromium, launchBrowser, overflowsHorizontally, seriousViolations, type Browser } from './e2e/browser.js';
import { startRulesService, type RulesService } from './e2e/rules-service.js';

const WAIT = 20_000;

interface ApiRule {
  id: string;
  name: string;
  enabled: boolean;
  version: number;
  [key: string]: unknown;
}

/**
 * Loads a CommonJS build with some of its requires answered from modules already loaded. The test
 * runner resolves packages with the `source` condition, under which Node's own `require` of the peer
 * `@crm-automation/core` would reach TypeScript; the build itself is evaluated as Node would.
 */
function loadCommonJs(file: string, provided: Record<string, unknown>): unknown {
  const nodeRequire = createRequire(file);
  const module = { exports: {} as unknown };
  const requireFor = (id: string): unknown => (id in provided ? provided[id] : nodeRequire(id));
  new Function('exports', 'require', 'module', '__filename', '__dirname', readFileSync(file, 'utf8'))(module.exports, requireFor, module, file, dirname(file));
  return module.exports;
}

function documentOf(rule: ApiRule): Record<string, unknown> {
  const { id: _i, accountId: _a, version: _v, createdAt: _c, updatedAt: _u, ...doc } = rule;
  return doc;
}

async function visible(locator: Locator, timeout = WAIT): Promise<Locator> {
  await locator.first().waitFor({ state: 'visible', timeout });
  return locator;
}

async function expectNoSeriousViolations(page: Page, screen: string): Promise<void> {
  const violations = await seriousViolations(page);
  expect(violations, `${screen}:\n${describeViolations(violations)}`).toEqual([]);
}

// Code run in the page is written as strings: the tests are typechecked without the DOM library.
// (Not page.waitForFunction: it evaluates strings with eval, which the UI's CSP rightly forbids.)
async function waitUntil(page: Page, expression: string, timeout = WAIT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const activeElementId = (page: Page) => page.evaluate(`document.activeElement?.id`);
const waitForRuleCount = (page: Page, count: number) => waitUntil(page, `document.querySelectorAll('.rule-item').length === ${count}`);
const waitForSwitch = (page: Page, name: string, checked: boolean) =>
  waitUntil(page, `document.querySelector('[role=switch][aria-label=' + ${JSON.stringify(JSON.stringify(`Enabled: ${name}`))} + ']')?.getAttribute('aria-checked') === ${JSON.stringify(String(checked))}`);

/** The id of the first run on the runs screen (from its title's element id). */
async function runId(page: Page): Promise<string> {
  const id = await page.locator('.run .run__title').first().getAttribute('id');
  return (id ?? '').replace(/^run-/, '').replace(/-title$/, '');
}

async function signIn(page: Page, service: RulesService): Promise<void> {
  await page.goto(service.uiUrl);
  await page.getByLabel('API key', { exact: true }).fill(service.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await visible(page.getByRole('heading', { name: 'Rules', level: 1 }));
}

describe('Automation Builder in Chromium', () => {
  let service: RulesService;
  let browser: Browser;
  let page: Page;
  /** Script errors and console errors (CSP violations among them) seen in any page. */
  const pageProblems: string[] = [];
  const rulesByName = async () => {
    const { body } = await service.api<{ items: ApiRule[] }>('GET', '/rules?limit=500');
    return new Map(body.items.map((r) => [r.name, r]));
  };

  beforeAll(async () => {
    ensureChromium();
    ensureBuiltApp();
    service = await startRulesService();
    browser = await launchBrowser();
    browser.context.on('page', (p) => watch(p));
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    watch(page);
    page.setDefaultTimeout(WAIT);
  });

  const watch = (p: Page) => {
    p.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    p.on('console', (message) => {
      // The browser logs every 4xx answer (the wrong key, the refused rule): answers the tests ask for.
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) pageProblems.push(`console: ${message.text()}`);
    });
  };

  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });

  it('serves the built app from the published plugin, ESM and CommonJS alike', async () => {
    type Plugin = { managementUi: FastifyPluginAsync<ManagementUiOptions> };
    const esm = (await import(pathToFileURL(join(distDir, 'index.js')).href)) as Plugin;
    const cjs = loadCommonJs(join(distDir, 'index.cjs'), { '@crm-automation/core': await import('@crm-automation/core') }) as Plugin;
    for (const plugin of [esm, cjs]) {
      const app = Fastify();
      await app.register(plugin.managementUi, { prefix: '/builder' });
      const index = await app.inject({ url: '/builder/rules/new' });
      expect(index.statusCode).toBe(200);
      expect(index.body).toContain('<base href="/builder/" />');
      const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(index.body)?.[1];
      expect(script).toBeDefined();
      const asset = await app.inject({ url: `/builder/${script ?? ''}` });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['cache-control']).toContain('immutable');
      await app.close();
    }
  });

  it('signs in with an API key kept in session storage, never in the URL, and signs out', async () => {
    await page.goto(service.uiUrl);
    await visible(page.getByRole('heading', { name: 'Sign in' }));
    await expectNoSeriousViolations(page, 'sign-in');
    // The checker itself: an unlabelled field must be reported.
    await page.evaluate(`document.body.insertAdjacentHTML('beforeend', '<input id="axe-probe" type="text">')`);
    expect((await seriousViolations(page)).map((v) => v.id)).toContain('label');
    await page.evaluate(`document.getElementById('axe-probe').remove()`);

    await page.getByLabel('API key', { exact: true }).fill('crm_not-a-real-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByText('That API key was not accepted'));
    expect(await page.getByLabel('API key', { exact: true }).getAttribute('aria-invalid')).toBe('true');

    // Keyboard only: the key field is the first stop, Enter submits.
    await page.goto(service.uiUrl);
    await visible(page.getByRole('heading', { name: 'Sign in' }));
    await page.keyboard.press('Tab');
    expect(await activeElementId(page)).toBe('api-key');
    await page.keyboard.type(service.apiKey);
    await page.keyboard.press('Enter');
    await visible(page.getByRole('heading', { name: 'Rules', level: 1 }));

    expect(page.url()).not.toContain(service.apiKey);
    expect(await page.evaluate(`sessionStorage.getItem('crm-automation.apiKey')`)).toBe(service.apiKey);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect((await browser.context.cookies()).length).toBe(0);
    await visible(page.getByRole('heading', { name: 'No rules yet' }));
    await expectNoSeriousViolations(page, 'empty rules list');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await visible(page.getByRole('heading', { name: 'Sign in' }));
    expect(await page.evaluate(`sessionStorage.getItem('crm-automation.apiKey')`)).toBeNull();
    await signIn(page, service);
  });

  it('builds the design doc SMS rule in the form, shows the API validation error at its field, tests and saves it', async () => {
    await page.locator('.page-head').getByRole('link', { name: 'New rule' }).click();
    await visible(page.getByRole('heading', { name: 'New rule', level: 1 }));

    // Saving the empty form: messages written for people, one per field (the validator reports the
    // empty event name twice).
    await page.getByRole('button', { name: 'Save rule' }).click();
    const empty = await visible(page.locator('.error-summary'));
    expect(await empty.locator('li').allTextContents()).toEqual(['Name is required', 'Event is required', 'A rule needs at least one action']);
    expect(await page.locator(`#${fieldId('name')}-error`).textContent()).toBe('Error: Name is required');
    expect(await page.locator(`#${fieldId('trigger.eventName')}-error p`).allTextContents()).toEqual(['Error: Event is required']);

    await page.getByLabel('Name', { exact: true }).fill(technicianSmsRule.name);
    await page.getByLabel('Description (optional)').fill(technicianSmsRule.description);
    await page.getByLabel('Event', { exact: true }).selectOption('job.status.changed');
    await page.getByLabel('Wait', { exact: true }).fill('5');
    await page.getByLabel('Unit', { exact: true }).selectOption('minutes');

    await page.getByRole('button', { name: '+ Condition', exact: true }).click();
    const c1 = page.getByRole('group', { name: 'Condition 1', exact: true });
    await c1.getByLabel('Fact').fill('job');
    await c1.getByLabel('Field (JSONPath)').fill('$.status');
    await visible(c1.getByText('Sample: "Done"'));
    await c1.getByLabel('Operator').selectOption('equal');
    await c1.getByLabel('Value type').selectOption('string');
    await c1.getByLabel('Value', { exact: true }).fill('Done');

    await page.getByRole('button', { name: '+ Condition', exact: true }).click();
    const c2 = page.getByRole('group', { name: 'Condition 2', exact: true });
    await c2.getByLabel('Field (JSONPath)').fill('$.assignedTechnician.phone');
    await c2.getByLabel('Operator').selectOption('notEqual');
    await c2.getByLabel('Value type').selectOption('null');

    await page.getByRole('button', { name: '+ SMS' }).click();
    const sms = page.getByRole('region', { name: '1. SMS' });
    // A literal that is not a phone number: the API refuses it.
    await sms.getByLabel('Phone number').fill('555-0100');
    const message = sms.getByLabel('Message', { exact: true });
    await message.fill('Hi {{job.assignedTechnician.name}}, job #{{job.number}} for ');
    // The last placeholder comes from the sample payload's picker, inserted at the cursor.
    await sms.getByText('Insert a placeholder').click();
    await sms.getByRole('button', { name: 'Insert {{job.client.name}}' }).click();
    await waitUntil(page, `document.activeElement?.tagName === 'TEXTAREA'`);
    await page.keyboard.type(' has been completed.');
    expect(await message.inputValue()).toBe(technicianSmsRule.actions[0]?.params.message);

    await page.getByRole('button', { name: 'Save rule' }).click();
    const summary = await visible(page.locator('.error-summary'));
    expect(await summary.textContent()).toContain('E.164');
    await waitUntil(page, `document.activeElement?.classList.contains('error-summary')`);
    const recipientId = fieldId('actions[0].params.recipient');
    expect(await page.locator(`#${recipientId}`).getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator(`#${recipientId}-error`).textContent()).toContain('E.164');
    await expectNoSeriousViolations(page, 'editor with validation errors');
    // The summary links to the field.
    await summary.getByRole('link').first().click();
    await waitUntil(page, `document.activeElement?.id === ${JSON.stringify(recipientId)}`);

    // Fix it: the number comes from the event.
    await sms.getByLabel('A number from the event').check();
    await sms.getByLabel('Fact').fill('job');
    await sms.getByLabel('Field (JSONPath)').fill('$.assignedTechnician.phone');
    await page.locator('.error-summary').waitFor({ state: 'detached', timeout: WAIT });

    // Dry run against the event type's sample payload.
    await page.getByRole('button', { name: 'Run test' }).click();
    const result = await visible(page.locator('.dry-run'));
    expect(await result.locator('.verdict').textContent()).toContain('Conditions pass: 1 action would be sent');
    expect(await result.locator('.trace--pass').count()).toBe(2);
    expect(await result.locator('.rendered__message').textContent()).toBe('Hi Jane Doe, job #J-5541 for John Smith has been completed.');
    expect(await result.locator('.rendered').textContent()).toContain('+15557654321');
    await expectNoSeriousViolations(page, 'editor with dry-run result');

    // A job without the technician's phone passes the conditions (`notEqual: null` passes for an absent
    // field), and the missing recipient would skip the run: a warning.
    const payload = page.getByLabel('Event payload (JSON)');
    const sample = JSON.parse(await payload.inputValue()) as { job: { assignedTechnician: Record<string, unknown> } };
    delete sample.job.assignedTechnician['phone'];
    await payload.fill(JSON.stringify(sample, null, 2));
    await page.getByRole('button', { name: 'Run test' }).click();
    const warning = await visible(page.locator('.verdict--warning'));
    expect(await warning.textContent()).toContain('Warning: Conditions pass, but a recipient is missing from this event: the run would be skipped, nothing sent at ');
    expect(await page.locator('.command--error').textContent()).toContain('recipient resolved to nothing');
    await expectNoSeriousViolations(page, 'editor with a dry run whose action would fail');

    await page.getByRole('button', { name: 'Save rule' }).click();
    await page.waitForURL(/\/ui\/rules\/[^/]+$/);
    await visible(page.getByRole('heading', { name: technicianSmsRule.name, level: 1 }));
    const saved = (await rulesByName()).get(technicianSmsRule.name);
    expect(saved && documentOf(saved)).toEqual(technicianSmsRule);
  });

  it('builds the design doc high-value rule in the form, keeps the JSON view in sync, and dry-runs a failing sample', async () => {
    await page.goto(`${service.uiUrl}rules/new`);
    await visible(page.getByRole('heading', { name: 'New rule', level: 1 }));
    await page.getByLabel('Name', { exact: true }).fill('draft');
    await page.getByLabel('Description (optional)').fill(highValueJobRule.description);
    await page.getByLabel('Event', { exact: true }).selectOption('job.created');

    await page.getByRole('button', { name: '+ Condition', exact: true }).click();
    const c1 = page.getByRole('group', { name: 'Condition 1', exact: true });
    await c1.getByLabel('Field (JSONPath)').fill('$.total');
    await c1.getByLabel('Operator').selectOption('greaterThanInclusive');
    expect(await c1.getByLabel('Value type').inputValue()).toBe('number');
    await c1.getByLabel('Value', { exact: true }).fill('2000');
    await page.getByRole('button', { name: '+ Condition', exact: true }).click();
    const c2 = page.getByRole('group', { name: 'Condition 2', exact: true });
    await c2.getByLabel('Field (JSONPath)').fill('$.client.type');
    await c2.getByLabel('Value', { exact: true }).fill('Commercial');

    await page.getByRole('button', { name: '+ Email' }).click();
    const email = page.getByRole('region', { name: '1. Email' });
    await email.getByLabel('Email address').fill('manager@CRM.com');
    await email.getByLabel('Subject', { exact: true }).fill('New High-Value Job: #{{job.number}}');
    await email.getByLabel('Provider template id (optional)').fill('new-high-value-job-template');

    await page.getByRole('button', { name: '+ Webhook' }).click();
    const webhook = page.getByRole('region', { name: '2. Webhook' });
    await webhook.getByLabel('URL', { exact: true }).fill('https://hooks.crm.com/new-lead');
    const fields: Array<[string, string]> = [
      ['source', 'CRM Automation'],
      ['jobId', '{{job.id}}'],
      ['clientName', '{{job.client.name}}'],
      ['value', '{{job.total}}'],
    ];
    for (const [i, [key, value]] of fields.entries()) {
      await webhook.getByRole('button', { name: '+ Field' }).click();
      await webhook.getByLabel(`Key of field ${i + 1}`, { exact: true }).fill(key);
      await webhook.getByLabel(`Value of field ${i + 1}`, { exact: true }).fill(value);
    }

    // The JSON view shows the exact document; an edit there updates the form; broken JSON does not.
    await page.getByRole('tab', { name: 'JSON' }).click();
    const json = page.getByLabel('Rule JSON');
    const text = await json.inputValue();
    const doc = JSON.parse(text) as Record<string, unknown>;
    expect(doc).toEqual({ ...highValueJobRule, name: 'draft' });
    await json.fill(`${text.slice(0, -2)} oops`);
    await visible(page.getByText('The JSON is not valid'));
    await json.fill(JSON.stringify({ ...doc, name: highValueJobRule.name }, null, 2));
    await page.getByText('The JSON is not valid').waitFor({ state: 'detached' });
    await json.fill('{ "name": ');
    await visible(page.getByText('The form keeps the last valid version'));
    await page.getByRole('tab', { name: 'Form' }).click();
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe(highValueJobRule.name);
    expect(await page.getByRole('region', { name: '2. Webhook' }).getByLabel('Value of field 3', { exact: true }).inputValue()).toBe('{{job.client.name}}');
    // Arrow keys move between the tabs.
    await page.getByRole('tab', { name: 'Form' }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.getByRole('tab', { name: 'JSON' }).getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('ArrowLeft');

    // A sample below the threshold: the failing condition shows the value it saw.
    const payload = page.getByLabel('Event payload (JSON)');
    await visible(payload);
    const sample = JSON.parse(await payload.inputValue()) as { job: { total: number } };
    sample.job.total = 1500;
    await payload.fill(JSON.stringify(sample, null, 2));
    await page.getByRole('button', { name: 'Run test' }).click();
    const result = await visible(page.locator('.dry-run'));
    expect(await result.locator('.verdict').textContent()).toContain('Conditions fail: nothing would be sent');
    const failed = result.locator('.trace--fail');
    expect(await failed.count()).toBe(1);
    expect(await failed.textContent()).toContain('Value seen: 1500');

    // The catalogue sample passes and renders the email and the webhook body exactly.
    await page.getByLabel('Sample', { exact: true }).selectOption('type:job.created');
    await page.getByRole('button', { name: 'Run test' }).click();
    await page.locator('.verdict', { hasText: 'Conditions pass: 2 actions would be sent' }).waitFor();
    const rendered = await page.locator('.commands').textContent();
    expect(rendered).toContain('New High-Value Job: #J-9001');
    expect(rendered).toContain('POST https://hooks.crm.com/new-lead');
    expect(rendered).toContain('"clientName": "Acme Corp"');
    expect(rendered).toContain('"value": "2450"');

    await page.getByRole('button', { name: 'Save rule' }).click();
    await page.waitForURL(/\/ui\/rules\/[^/]+$/);
    await visible(page.getByRole('heading', { name: highValueJobRule.name, level: 1 }));
    const saved = (await rulesByName()).get(highValueJobRule.name);
    expect(saved && documentOf(saved)).toEqual(highValueJobRule);
    await expectNoSeriousViolations(page, 'editor of a saved rule with conditions and actions');
  });

  it('lists, searches, filters and enables/disables rules in one click', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rules' }).click();
    const items = page.locator('.rule-item');
    await waitForRuleCount(page, 2);
    await expectNoSeriousViolations(page, 'rules list');

    await page.getByLabel('Search by name').fill('high-value');
    await waitForRuleCount(page, 1);
    expect(await items.first().textContent()).toContain(highValueJobRule.name);
    await page.getByLabel('Search by name').fill('');
    await page.getByLabel('Event', { exact: true }).selectOption('job.status.changed');
    await waitForRuleCount(page, 1);
    expect(await items.first().textContent()).toContain(technicianSmsRule.name);
    await page.getByLabel('Event', { exact: true }).selectOption('');
    await waitForRuleCount(page, 2);

    const before = (await rulesByName()).get(technicianSmsRule.name);
    const toggle = page.getByRole('switch', { name: `Enabled: ${technicianSmsRule.name}` });
    expect(await toggle.getAttribute('aria-checked')).toBe('true');
    await toggle.click();
    await waitForSwitch(page, technicianSmsRule.name, false);
    const after = (await rulesByName()).get(technicianSmsRule.name);
    expect(after?.enabled).toBe(false);
    expect(after?.version).toBe((before?.version ?? 0) + 1);

    await page.getByLabel('Status', { exact: true }).selectOption('false');
    await waitForRuleCount(page, 1);
    await page.getByLabel('Status', { exact: true }).selectOption('');
    await waitForRuleCount(page, 2);

    // Keyboard: the switch toggles with Space and shows where the focus is.
    await toggle.focus();
    // Arrive by keyboard, as :focus-visible is about keyboard focus.
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(`document.activeElement?.getAttribute('aria-label')`)).toBe(`Enabled: ${technicianSmsRule.name}`);
    const outline = await page.evaluate(`getComputedStyle(document.activeElement).outlineStyle`);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Space');
    await waitForSwitch(page, technicianSmsRule.name, true);
    expect((await rulesByName()).get(technicianSmsRule.name)?.enabled).toBe(true);
  });

  it('publishes an event, shows the failed run with its history, retries it to completion, and cancels a pending run', async () => {
    const rules = await rulesByName();
    const highValue = rules.get(highValueJobRule.name);
    const smsRule = rules.get(technicianSmsRule.name);
    if (!highValue || !smsRule) throw new Error('the rules of the earlier tests are missing');

    await page.locator('.rule-item', { hasText: highValueJobRule.name }).getByRole('link', { name: /^Runs/ }).click();
    await visible(page.getByRole('heading', { name: /^Runs/, level: 1 }));
    await visible(page.getByRole('heading', { name: 'No runs yet' }));

    // The email gateway refuses the first send for good: the run fails (the webhook still goes out).
    service.channels.email.failNext(new GatewayError('mailbox unavailable', { retryable: false, provider: 'recording', status: 550 }));
    await page.getByRole('button', { name: 'Publish event' }).click();
    await visible(page.getByText(/accepted: 1 run started, due .+\((in a few seconds|just now)\)\./));
    const run = page.locator('.run').first();
    await visible(run.locator('.badge--failed'));
    expect(await run.locator('.run__meta').textContent()).toContain('Attempts1');

    await run.getByRole('button', { name: /^History/ }).click();
    const history = await visible(run.locator('.history'));
    expect(await history.textContent()).toContain('An action failed and will not be retried');
    expect(await history.textContent()).toContain('mailbox unavailable');
    // The other action went out; a retry must not send it again.
    expect(await history.textContent()).toContain('2. Webhook: Sent');
    await expectNoSeriousViolations(page, 'runs with a failed run and its history');

    await run.getByRole('button', { name: /^Retry/ }).click();
    await visible(run.locator('.badge--completed').first(), WAIT);
    expect(service.channels.email.sent).toHaveLength(1);
    expect(service.channels.webhook.sent).toHaveLength(1);
    expect(service.channels.webhook.sent[0]?.params).toMatchObject({ url: 'https://hooks.crm.com/new-lead', payload: { clientName: 'Acme Corp' } });
    await waitUntil(page, `document.querySelector('.run .history')?.textContent?.includes('Retry requested')`);
    expect(await run.locator('.history').textContent()).toContain('Sent');

    // What was sent, rendered again from the run's event with the version that ran.
    await run.getByRole('button', { name: 'Show the messages' }).click();
    await visible(run.getByText('as sent.'));
    expect(await run.locator('.history__rendered').textContent()).toContain('New High-Value Job: #J-9001');

    // A job under the threshold is skipped; its history says why, with the value seen.
    await service.api('POST', '/events', { name: 'job.created', payload: { job: { id: 'job_small', number: 'J-2', total: 100, client: { name: 'Bob', type: 'Commercial' } } } });
    const skipped = page.locator('.run', { has: page.locator('.badge--skipped') });
    await visible(skipped);
    await skipped.getByRole('button', { name: /^History/ }).click();
    expect(await visible(skipped.locator('.history')).then((h) => h.textContent())).toContain('The conditions were not met');
    expect(await skipped.locator('.trace--fail').textContent()).toContain('Value seen: 100');

    // The SMS rule waits 5 minutes: its run is pending and can be cancelled.
    await page.goto(`${service.uiUrl}rules/${smsRule.id}/runs`);
    await visible(page.getByRole('heading', { name: 'No runs yet' }));
    expect(await page.getByLabel('Event name').inputValue()).toBe('job.status.changed');
    await page.getByRole('button', { name: 'Publish event' }).click();
    await visible(page.getByText(/accepted: 1 run started, due .+\(in 5 minutes\)\./));
    const pending = page.locator('.run').first();
    await visible(pending.locator('.badge--pending'));
    expect(await pending.textContent()).toContain('Due in 5 minutes');
    await pending.getByRole('button', { name: /^Cancel/ }).click();
    await visible(pending.locator('.badge--cancelled'));
    expect(service.channels.sms.calls).toHaveLength(0);

    // The list shows the counts of recent runs by outcome and when each rule last fired.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rules' }).click();
    const hvItem = page.locator('.rule-item', { hasText: highValueJobRule.name });
    await visible(hvItem.locator('.badge--completed'));
    expect(await hvItem.locator('.run-counts').textContent()).toMatch(/Completed\s*1.*Skipped\s*1/);
    expect(await hvItem.locator('.rule-item__meta').textContent()).toMatch(/Last fired(just now|\d+ minutes? ago)/);
    expect(await page.locator('.rule-item', { hasText: technicianSmsRule.name }).locator('.run-counts').textContent()).toMatch(/Cancelled\s*1/);
  });

  it("shows a run's sends from the delivery ledger and resolves an unknown one as sent, then another by sending it again", async () => {
    const created = await service.api<ApiRule>('POST', '/rules', { ...technicianSmsRule, name: 'Tell the technician now', delay: { value: 0, unit: 'minutes' } });
    expect(created.status).toBe(201);
    const timeout = () => new GatewayError('sms did not answer within 10 s', { retryable: true, ambiguous: true, provider: 'sms' });
    const sentBefore = service.channels.sms.sent.length;

    // The gateway times out after the request may have reached the provider: the send is unknown, held.
    service.channels.sms.failNext(timeout());
    await service.api('POST', '/events', { name: 'job.status.changed', payload: { job: { number: 'J-41', status: 'Done', assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } } });
    await page.goto(`${service.uiUrl}rules/${created.body.id}/runs`);
    const run = page.locator('.run').first();
    await visible(run.locator('.badge--completed'));
    await run.getByRole('button', { name: /^History/ }).click();
    const send = await visible(run.locator('.delivery'));
    await visible(send.locator('.badge--delivery-warning', { hasText: 'Unknown' }));
    const text = (await send.textContent()) ?? '';
    expect(text).toContain('1. SMS · attempt 1');
    expect(text).toContain('It is not sent again on its own.');
    expect(text).toContain('+15557654321');
    expect(text).toContain('sms did not answer within 10 s');
    expect(await run.locator('.history').textContent()).toContain('held until a receipt or an operator settles it');
    await send.locator('summary', { hasText: 'Timeline' }).click();
    expect(await send.locator('.delivery__timeline li').allTextContents()).toEqual([expect.stringContaining('Sending, by the engine'), expect.stringContaining('Unknown, by the engine')]);
    await expectNoSeriousViolations(page, 'runs with an unknown send');

    await send.getByLabel('Note (optional)').fill('found in the console');
    await send.getByRole('button', { name: /^Mark as sent/ }).click();
    await visible(send.locator('.badge--delivery-success', { hasText: 'Accepted' }));
    expect(await send.getByRole('button', { name: /^Mark as sent/ }).count()).toBe(0);
    const [delivery] = (await service.api<{ items: Array<{ state: string; events: Array<{ source: string; detail?: string }> }> }>('GET', `/triggers/${await runId(page)}/deliveries`)).body.items;
    expect(delivery?.state).toBe('accepted');
    expect(delivery?.events.at(-1)).toMatchObject({ source: 'operator', detail: expect.stringContaining('found in the console') });
    expect(service.channels.sms.sent).toHaveLength(sentBefore);

    // The next one is not at the provider: sent again, once, after the user confirms.
    service.channels.sms.failNext(timeout());
    await service.api('POST', '/events', { name: 'job.status.changed', payload: { job: { number: 'J-42', status: 'Done', assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } } });
    await waitUntil(page, `document.querySelectorAll('.run .badge--completed').length === 2`);
    // The first run's history is open ("Hide history"): the new run is the other one.
    const titleId = await page.locator('.run', { has: page.getByRole('button', { name: /^History/ }) }).locator('.run__title').getAttribute('id');
    const second = page.locator(`li.run[aria-labelledby="${titleId ?? ''}"]`);
    await second.getByRole('button', { name: /^History/ }).click();
    const unknown = await visible(second.locator('.delivery', { has: page.locator('.badge--delivery-warning') }));
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await unknown.getByRole('button', { name: /^Send again/ }).click();
    await visible(second.locator('.delivery .badge--delivery-neutral', { hasText: 'Abandoned' }));
    expect(asked).toBe('Send this SMS to +15557654321 again? If sms did take the first one, the recipient gets it twice.');
    // The claim loop runs the trigger again: the second send goes out and is listed after the first.
    await visible(second.locator('.delivery .badge--delivery-success', { hasText: 'Accepted' }));
    expect(await second.locator('.delivery__head').allTextContents()).toEqual(['Abandoned1. SMS · attempt 1', 'Accepted1. SMS · attempt 2']);
    expect(service.channels.sms.sent).toHaveLength(sentBefore + 1);
    await expectNoSeriousViolations(page, 'runs after resolving sends');
  });

  it('builds an entity-aware rule (entity key, debounce with a longest wait, a cancel event), placing the API’s refusals at their fields; runs say which run replaced which and filter by entity', async () => {
    const smsBefore = service.channels.sms.calls.length;
    await page.goto(`${service.uiUrl}rules/new`);
    await visible(page.getByRole('heading', { name: 'New rule', level: 1 }));
    await page.getByLabel('Name', { exact: true }).fill('Debounced job SMS');
    await page.getByLabel('Event', { exact: true }).selectOption('job.status.changed');
    await page.getByLabel('Wait', { exact: true }).fill('5');
    await page.getByRole('button', { name: '+ SMS' }).click();
    const sms = page.getByRole('region', { name: '1. SMS' });
    await sms.getByLabel('Phone number').fill('+15557654321');
    await sms.getByLabel('Message', { exact: true }).fill('Job {{job.number}} is done');

    // Debounce without an entity key, and a longest wait shorter than the wait: both refused, at their fields.
    await page.getByLabel('When a run for the same entity is already waiting').selectOption('supersede');
    await page.getByLabel('Longest wait (optional)').fill('3');
    await page.getByRole('button', { name: 'Save rule' }).click();
    await visible(page.locator('.error-summary'));
    const keyField = fieldId('trigger.key');
    expect(await page.locator(`#${keyField}`).getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator(`#${keyField}-error`).textContent()).toContain('need');
    expect(await page.locator(`#${fieldId('concurrency.maxWait')}-error`).textContent()).toContain('shorter than the delay');
    await expectNoSeriousViolations(page, 'editor with entity validation errors');

    await page.getByLabel('Entity key (optional)').fill('$.job.id');
    await page.getByLabel('Longest wait (optional)').fill('15');
    await page.getByRole('button', { name: '+ Cancel event' }).click();
    await waitUntil(page, `document.activeElement?.id === ${JSON.stringify(fieldId('cancelOn[0].eventName'))}`);
    await page.getByLabel('Cancel event 1').fill('job.reopened');
    await page.locator('.error-summary').waitFor({ state: 'detached', timeout: WAIT });
    await page.getByRole('button', { name: 'Save rule' }).click();
    await page.waitForURL(/\/ui\/rules\/[^/]+$/);
    const saved = (await rulesByName()).get('Debounced job SMS');
    if (!saved) throw new Error('the entity rule was not saved');
    expect(documentOf(saved)).toMatchObject({
      trigger: { eventName: 'job.status.changed', key: '$.job.id' },
      concurrency: { mode: 'supersede', maxWait: { value: 15, unit: 'minutes' } },
      cancelOn: [{ eventName: 'job.reopened' }],
    });
    // Read back into the form as saved.
    expect(await page.getByLabel('Entity key (optional)').inputValue()).toBe('$.job.id');
    expect(await page.getByLabel('Cancel event 1').inputValue()).toBe('job.reopened');

    // Two changes of job J-1 within the wait: the first run is replaced by the second.
    const now = Date.now();
    const job = (id: string) => ({ job: { id, number: `N-${id}`, status: 'Done' } });
    await service.api('POST', '/events', { name: 'job.status.changed', id: 'ent-1', payload: job('J-1'), timestamp: new Date(now).toISOString() });
    const second = await service.api<{ triggers: Array<{ id: string; ruleId: string }> }>('POST', '/events', { name: 'job.status.changed', id: 'ent-2', payload: job('J-1'), timestamp: new Date(now + 1_000).toISOString() });
    await service.api('POST', '/events', { name: 'job.status.changed', id: 'ent-3', payload: job('J-2'), timestamp: new Date(now).toISOString() });
    const replacing = second.body.triggers.find((t) => t.ruleId === saved.id)?.id;
    await page.goto(`${service.uiUrl}rules/${saved.id}/runs`);
    const replaced = await visible(page.locator('.run', { has: page.locator('.badge--cancelled') }));
    expect(await replaced.locator('.run__why').textContent()).toBe(`Replaced by the run ${replacing}, for a newer event job.status.changed (ent-2).`);
    expect(await replaced.locator('.run__meta').textContent()).toContain('EntityJ-1');
    await replaced.getByRole('button', { name: /^History/ }).click();
    expect(await visible(replaced.locator('.history')).then((h) => h.textContent())).toContain('A newer event for the same entity replaced it');
    await expectNoSeriousViolations(page, 'runs of a keyed rule');

    const filter = page.getByLabel('Entity', { exact: true });
    await filter.fill('J-2');
    await filter.press('Enter');
    await waitUntil(page, `document.querySelectorAll('.run').length === 1`);
    expect(await page.locator('.run .run__meta').textContent()).toContain('EntityJ-2');
    await filter.fill('nobody');
    await filter.press('Enter');
    await visible(page.getByRole('heading', { name: 'No runs for this entity' }));
    // Every run waits its 5 minutes: nothing was sent.
    expect(service.channels.sms.calls).toHaveLength(smsBefore);
  });

  it('builds a scheduled rule in plain words (a day before the appointment at 09:00 in the client’s zone, weekdays 8–18), saves it unchanged, and shows each run’s due time in the client’s zone and the viewer’s', async () => {
    await page.goto(`${service.uiUrl}rules/new`);
    await visible(page.getByRole('heading', { name: 'New rule', level: 1 }));
    await page.getByLabel('Name', { exact: true }).fill('Appointment reminder');
    await page.getByLabel('Event', { exact: true }).selectOption('appointment.booked');
    await page.getByRole('radio', { name: 'At a time relative to a date in the event' }).check();
    expect(await page.getByLabel('Wait', { exact: true }).count()).toBe(0);
    await page.getByLabel('Date to count from').fill('$.appointment.startsAt');
    await page.getByLabel('How many (optional)').fill('1');
    await page.getByLabel('At (local time, optional)').fill('09:00');
    await page.getByLabel('Whose time').selectOption('path');
    await page.getByLabel('Zone in the event (JSONPath)').fill('$.client.timeZone');
    await page.getByLabel('Else (fallback zone)').selectOption('America/Chicago');
    await page.getByLabel(/^Only in these hours/).check();
    await page.getByLabel('Saturday').uncheck();
    await page.getByLabel('Sunday').uncheck();
    const words = "1 day before Appointment starts at, at 09:00, in the client's time zone ($.client.timeZone, else America/Chicago), weekdays 08:00–18:00, skipped if already past";
    expect(await page.locator('.schedule__words').textContent()).toBe(`Schedule: ${words}`);
    await page.getByRole('button', { name: '+ SMS' }).click();
    const sms = page.getByRole('region', { name: '1. SMS' });
    await sms.getByLabel('Phone number').fill('+15557654321');
    await sms.getByLabel('Message', { exact: true }).fill('Reminder: your appointment is tomorrow');
    await expectNoSeriousViolations(page, 'editor with a schedule');

    // The dry run on the sample says when, in whose zone.
    await page.getByRole('button', { name: 'Run test' }).click();
    const dryRun = await visible(page.locator('.dry-run__schedule'));
    expect(await dryRun.textContent()).toContain("in America/New_York (the event's zone)");

    await page.getByRole('button', { name: 'Save rule' }).click();
    await page.waitForURL(/\/ui\/rules\/[^/]+$/);
    const saved = (await rulesByName()).get('Appointment reminder');
    if (!saved) throw new Error('the scheduled rule was not saved');
    expect(saved['schedule']).toEqual(reminderSchedule);
    // Loaded back as saved: nothing to save (the stored zero delay is not a change).
    await page.reload();
    // The editor reads the rule again after the reload: the words come once it has.
    await page.waitForLoadState('networkidle');
    await visible(page.locator('.schedule__words'));
    expect(await page.locator('.page-head__title .muted').textContent()).toBe(`Version ${saved.version} · saved`);
    expect(await page.locator('.schedule__words').textContent()).toBe(`Schedule: ${words}`);

    await page.goto(service.uiUrl);
    const item = await visible(page.locator('.rule-item', { hasText: 'Appointment reminder' }));
    expect(await item.locator('.rule-item__meta').textContent()).toContain(`Schedule${words}`);

    // Booked for Thursday 15:00 UTC three weeks out: due Wednesday 09:00 in New York, 14:00 for this (UTC) browser.
    const startsAt = new Date(Date.now() + 21 * 86_400_000);
    startsAt.setUTCHours(15, 0, 0, 0);
    startsAt.setUTCDate(startsAt.getUTCDate() + ((4 - startsAt.getUTCDay() + 7) % 7));
    await service.api('POST', '/events', { name: 'appointment.booked', id: 'ap-e1', payload: { appointment: { id: 'ap_9', startsAt: startsAt.toISOString() }, client: { timeZone: 'America/New_York' } } });
    await page.goto(`${service.uiUrl}rules/${saved.id}/runs`);
    const run = await visible(page.locator('.run'));
    const meta = (await run.locator('.run__meta').textContent()) ?? '';
    expect(meta).toMatch(/Recipient's time.*9:00.*America\/New_York/);
    expect(meta).toMatch(/Your time.*1[34]:00.*UTC/);
    await run.getByRole('button', { name: /^History/ }).click();
    expect(await visible(run.locator('.schedule-details')).then((d) => d.textContent())).toContain("the event's zone");
    await expectNoSeriousViolations(page, 'runs of a scheduled rule');
  });

  it('sets the contact policy in the form (quiet hours in the client’s zone, caps), says it in words, reports a concurrent change and an invalid path at its field', async () => {
    await page.goto(service.uiUrl);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contact policy' }).click();
    await visible(page.getByRole('heading', { name: 'Contact policy', level: 1 }));
    const sms = page.getByRole('region', { name: 'Text messages (SMS)' });
    await sms.getByLabel('Whose time').selectOption('path');
    await sms.getByLabel('Field of the event (JSONPath)').fill('$.client.timeZone');
    await sms.getByLabel('Else (fallback zone)').selectOption('America/Chicago');
    await sms.getByLabel(/^No marketing texts during these hours/).check();
    await sms.getByLabel('From', { exact: true }).fill('21:00');
    await sms.getByLabel('To', { exact: true }).fill('08:00');
    await sms.getByRole('button', { name: 'Add a cap' }).click();
    await sms.getByLabel('At most (cap 1)').fill('3');
    await sms.getByLabel('Period (cap 1)').selectOption('day');
    await sms.getByRole('button', { name: 'Add a cap' }).click();
    await sms.getByLabel('At most (cap 2)').fill('10');
    await sms.getByLabel('Period (cap 2)').selectOption('week');
    const words = "Texts: not between 21:00 and 08:00 in the client's time zone; at most 3 a day and 10 a week; over the cap: skipped";
    expect(await page.locator('.policy-summary').textContent()).toBe(words);
    await expectNoSeriousViolations(page, 'contact policy');
    await page.getByRole('button', { name: 'Save the contact policy' }).click();
    await visible(page.getByText(/^Version 1, saved/));
    const stored = await service.api<{ channels: Record<string, unknown>; version: number }>('GET', '/contact-policy');
    expect(stored.body).toMatchObject({
      version: 1,
      channels: { sms: { quietHours: { from: '21:00', to: '08:00', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/Chicago' }, caps: [{ max: 3, per: 'day' }, { max: 10, per: 'week' }] } },
    });

    // Someone else saves meanwhile: this form's save is refused, and says so.
    expect((await service.api('PUT', '/contact-policy', { channels: { email: { caps: [{ max: 2, per: 'day' }] } }, version: 1 })).status).toBe(200);
    await sms.getByLabel('At most (cap 1)').fill('4');
    await page.getByRole('button', { name: 'Save the contact policy' }).click();
    await visible(page.getByText(/^Someone else changed the contact policy/));
    await page.getByRole('button', { name: 'Reload the policy' }).click();
    await visible(page.getByText(/^Version 2, saved/));
    expect(await page.locator('.policy-summary').textContent()).toBe("Emails: at most 2 a day in UTC; over the cap: skipped");

    // A path the engine refuses lands at its field.
    await sms.getByLabel('Whose time').selectOption('path');
    await sms.getByLabel('Field of the event (JSONPath)').fill('$..timeZone');
    await page.getByRole('button', { name: 'Save the contact policy' }).click();
    const field = await visible(sms.locator('.field--invalid', { has: page.getByLabel('Field of the event (JSONPath)') }));
    expect(await field.locator('.field__error').textContent()).not.toBe('');
    expect(await sms.getByLabel('Field of the event (JSONPath)').getAttribute('aria-invalid')).toBe('true');
    await expectNoSeriousViolations(page, 'contact policy with an error');
  });

  it('keeps the suppression list: adds by hand with a note, looks up, lifts, and shows the audit trail with a CSV export', async () => {
    await page.goto(`${service.uiUrl}suppressions`);
    await visible(page.getByRole('heading', { name: 'Suppressions', level: 1 }));
    const add = page.getByRole('region', { name: 'Suppress a recipient' });
    await add.getByLabel('Recipient').fill('not a number');
    await add.getByRole('button', { name: 'Suppress' }).click();
    await visible(add.locator('.field__error'));
    await add.getByLabel('Recipient').fill('+15557654321');
    await add.getByLabel('Note (optional)').fill('asked on the phone');
    await add.getByRole('button', { name: 'Suppress' }).click();
    const row = await visible(page.locator('.data-table tbody tr', { hasText: '+15557654321' }));
    expect(await row.textContent()).toContain('Added by hand');
    const added = await service.api<{ suppressed: boolean; suppression?: { source: string; by?: string } }>('GET', '/suppressions/sms/+15557654321');
    expect(added.body).toMatchObject({ suppressed: true, suppression: { source: 'ui', by: expect.stringMatching(/^api:/) } });

    const lookup = page.getByRole('region', { name: 'Look up a recipient' });
    await lookup.getByLabel('Recipient').fill('+15557654321');
    await lookup.getByRole('button', { name: 'Look up' }).click();
    await visible(lookup.getByText(/is suppressed on sms since/));
    await expectNoSeriousViolations(page, 'suppressions');
    page.once('dialog', (dialog) => void dialog.accept());
    await lookup.getByRole('button', { name: 'Lift the suppression' }).click();
    await visible(lookup.getByText(/is not suppressed on sms/));
    expect((await service.api<{ suppressed: boolean }>('GET', '/suppressions/sms/+15557654321')).body.suppressed).toBe(false);

    const audit = page.getByRole('region', { name: 'Audit trail' });
    await waitUntil(page, `document.querySelectorAll('.audit-trail li').length === 2`);
    expect(await audit.locator('.audit-trail li').allTextContents()).toEqual([expect.stringContaining('Added (added by hand)'), expect.stringContaining('Removed (lifted by hand)')]);
    await audit.getByRole('button', { name: 'Export as CSV' }).click();
    const link = await visible(audit.getByRole('link', { name: /^Download suppression-changes-all-/ }));
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const path = await download.path();
    const csv = readFileSync(path, 'utf8').split(/\r?\n/);
    expect(csv[0]).toBe('at,action,channel,recipient,reason,source,by,detail');
    // Both changes were made on this screen: the export says so.
    expect(csv.slice(1).filter((line) => line.length > 0).map((line) => line.split(',')[5])).toEqual(['ui', 'ui']);
  });

  it('stays usable at 360 px wide, with long names, and without serious accessibility problems', async () => {
    const longName = `Escalate ${'very-long-unbroken-rule-name-'.repeat(5)}to the regional manager`;
    const created = await service.api<ApiRule>('POST', '/rules', {
      ...highValueJobRule,
      name: longName,
      description: 'x'.repeat(400),
      trigger: { eventName: `job.${'segment.'.repeat(12)}created` },
    });
    expect(created.status).toBe(201);
    await service.api('POST', '/events', { name: `job.${'segment.'.repeat(12)}created`, payload: { job: { id: 'j', number: 'J-3', total: 5000, client: { name: 'C'.repeat(120), type: 'Commercial' } } } });

    const narrow = await browser.context.newPage();
    narrow.setDefaultTimeout(WAIT);
    await narrow.setViewportSize({ width: 360, height: 760 });
    await narrow.goto(service.uiUrl);
    expect((await overflowsHorizontally(narrow)).overflow).toBe(false);
    await expectNoSeriousViolations(narrow, 'sign-in at 360 px');
    await signIn(narrow, service);

    const screens: Array<[string, string, string]> = [
      ['rules list', '', '.rule-item'],
      ['editor', `rules/${created.body.id}`, '.action-card'],
      ['new rule', 'rules/new', '.add-actions'],
      ['runs', `rules/${created.body.id}/runs`, '.run'],
      ['contact policy', 'contact-policy', '.policy-summary, .card'],
      ['suppressions', 'suppressions', '.audit-trail, .card'],
    ];
    for (const [name, path, ready] of screens) {
      await narrow.goto(`${service.uiUrl}${path}`);
      await visible(narrow.locator(ready));
      if (name === 'runs') await narrow.locator('.run').first().getByRole('button', { name: /^History/ }).click();
      if (name === 'editor') {
        await narrow.getByRole('button', { name: 'Run test' }).click();
        await visible(narrow.locator('.dry-run'));
      }
      const overflow = await overflowsHorizontally(narrow);
      expect(overflow, `${name} at 360 px: ${overflow.widest.join(', ')}`).toMatchObject({ overflow: false });
      await expectNoSeriousViolations(narrow, `${name} at 360 px`);
    }

    // Deleting asks first, then the rule is gone.
    await narrow.goto(`${service.uiUrl}rules/${created.body.id}`);
    narrow.once('dialog', (dialog) => void dialog.accept());
    await narrow.getByRole('button', { name: 'Delete' }).click();
    await visible(narrow.getByRole('heading', { name: 'Rules', level: 1 }));
    expect((await service.api('GET', `/rules/${created.body.id}`)).status).toBe(404);
    expect(await narrow.locator('.rule-item', { hasText: 'very-long-unbroken' }).count()).toBe(0);
    await narrow.close();
  });

  it('ran without script errors or Content-Security-Policy violations', () => {
    expect(pageProblems).toEqual([]);
  });
});
