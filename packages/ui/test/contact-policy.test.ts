import { describe, expect, it } from 'vitest';
import { ApiError, createApiClient, type ApiClient } from '../app/api/client.js';
import type { ContactPolicyDocument, Rule, SavedRule, Trigger, TriggerPage, ValidateResult } from '../app/api/types.js';
import { describeReason } from '../app/format.js';
import { changesCsvName, contactPolicyEntryText, dryRunContactPolicyText, skippedActionText, suppressionChangeText, suppressionText } from '../app/model/contact-outcome.js';
import { describePolicy, formToPolicy, newCapRow, nextCapPeriod, policyFieldPaths, policyToForm } from '../app/model/contact-policy-form.js';
import { placeIssues } from '../app/model/form-fields.js';
import { deferredRunText, runEndReason } from '../app/model/run-outcome.js';
import { formToRule, ruleToForm, type ActionForm } from '../app/model/rule-form.js';
import { rulesApiPerTest } from './rules-api-answers.js';

const openRulesApi = rulesApiPerTest();

/** The Rules API over a real engine on the memory store (clock at 2030-01-01T09:00Z), and the app's own client on it. */
async function service(): Promise<{ client: ApiClient; answers: Awaited<ReturnType<typeof openRulesApi>> }> {
  const api = await openRulesApi();
  return { client: createApiClient({ base: await api.origin(), apiKey: api.apiKey }), answers: api };
}

/** The docs' example policy: SMS with the zone on its quiet hours, email with the zone on the channel. */
const documented: ContactPolicyDocument = {
  channels: {
    sms: {
      quietHours: { from: '21:00', to: '08:00', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/Chicago' },
      caps: [
        { max: 3, per: 'day' },
        { max: 10, per: 'week' },
      ],
      overCap: 'skip',
    },
    email: { caps: [{ max: 2, per: 'day' }], timeZone: '$.client.timeZone', fallbackTimeZone: 'America/Chicago' },
  },
};

describe('the Contact policy screen', () => {
  it('loads version 0 before any policy, builds one in the form, saves it with If-Match and says it in words', async () => {
    const { client } = await service();
    const empty = await client.getContactPolicy();
    expect(empty).toMatchObject({ channels: {}, version: 0 });
    const form = policyToForm(empty);
    expect(form.version).toBe(0);
    expect(formToPolicy(form)).toEqual({ policy: { channels: {} }, issues: [] });

    const sms = form.channels.sms;
    Object.assign(sms, { quietHours: true, from: '21:00', to: '08:00', zoneMode: 'path', zonePath: '$.client.timeZone', fallbackZone: 'America/Chicago' });
    sms.caps = [newCapRow('day', '3')];
    const next = nextCapPeriod(sms.caps);
    expect(next).toBe('hour');
    sms.caps.push(newCapRow('week', '10'));
    const { policy, issues } = formToPolicy(form);
    expect(issues).toEqual([]);
    expect(policy).toEqual({ channels: { sms: { quietHours: { from: '21:00', to: '08:00', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/Chicago' }, caps: [{ max: 3, per: 'day' }, { max: 10, per: 'week' }] } } });

    const saved = await client.putContactPolicy(policy, form.version);
    expect(saved.version).toBe(1);
    expect(describePolicy(saved)).toEqual(["Texts: not between 21:00 and 08:00 in the client's time zone; at most 3 a day and 10 a week; over the cap: skipped"]);
    expect((await client.getContactPolicy()).channels).toEqual(policy.channels);
  });

  it('round-trips a stored policy exactly, wherever its zone is written, and says each channel in words', async () => {
    const { client } = await service();
    const saved = await client.putContactPolicy(documented, 0);
    const form = policyToForm(saved);
    expect(form.channels.sms).toMatchObject({ zoneMode: 'path', zoneInQuietHours: true, overCap: 'skip', overCapStated: true });
    expect(form.channels.email).toMatchObject({ zoneMode: 'path', zoneInQuietHours: false, quietHours: false });
    expect(formToPolicy(form).policy.channels).toEqual(saved.channels);
    expect(JSON.stringify(formToPolicy(form).policy.channels)).toBe(JSON.stringify(documented.channels));
    expect(describePolicy(saved)).toEqual([
      "Texts: not between 21:00 and 08:00 in the client's time zone; at most 3 a day and 10 a week; over the cap: skipped",
      "Emails: at most 2 a day in the client's time zone; over the cap: skipped",
    ]);
    // A fixed zone and deferral read as such.
    expect(describePolicy({ channels: { sms: { quietHours: { from: '20:00', to: '09:00', timeZone: 'America/New_York' }, caps: [{ max: 1, per: 'hour' }], overCap: 'defer' } } })).toEqual([
      'Texts: not between 20:00 and 09:00 in America/New_York; at most 1 an hour; over the cap: deferred to the next period',
    ]);
    // Turning quiet hours off keeps the recipient's zone for the caps, on the channel.
    form.channels.sms.quietHours = false;
    expect(formToPolicy(form).policy.channels['sms']).toEqual({ caps: [{ max: 3, per: 'day' }, { max: 10, per: 'week' }], overCap: 'skip', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/Chicago' });
  });

  it('a save over a stale read is a 409: someone else changed it', async () => {
    const { client } = await service();
    const first = policyToForm(await client.getContactPolicy());
    const second = policyToForm(await client.getContactPolicy());
    first.channels.sms.caps = [newCapRow('day', '3')];
    await client.putContactPolicy(formToPolicy(first).policy, first.version);
    second.channels.sms.caps = [newCapRow('day', '5')];
    const conflict = await client.putContactPolicy(formToPolicy(second).policy, second.version).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ApiError);
    expect(conflict).toMatchObject({ status: 409, code: 'CRM_ERR_VERSION_CONFLICT' });
    expect((await client.getContactPolicy()).channels['sms']?.caps).toEqual([{ max: 3, per: 'day' }]);
  });

  it("puts the API's 400 issues on the fields their paths name, and the form's own ones first", async () => {
    const { client } = await service();
    const form = policyToForm(await client.getContactPolicy());
    Object.assign(form.channels.sms, { quietHours: true, from: '9pm', to: '08:00', zoneMode: 'literal', zone: 'America/New_Yrok' });
    form.channels.sms.caps = [newCapRow('day', '3'), newCapRow('day', '0')];
    const error = await client.putContactPolicy(formToPolicy(form).policy, form.version).catch((e: unknown) => e);
    if (!(error instanceof ApiError)) throw new Error(`the save did not fail: ${String(error)}`);
    expect(error).toMatchObject({ status: 400, code: 'CRM_ERR_POLICY_INVALID' });
    const paths = error.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['channels.sms.quietHours.from', 'channels.sms.quietHours.timeZone', 'channels.sms.caps[1].max', 'channels.sms.caps[1].per']));
    const placed = placeIssues(error.issues, policyFieldPaths(form));
    expect(placed.unplaced).toEqual([]);
    for (const path of ['channels.sms.quietHours.from', 'channels.sms.quietHours.timeZone', 'channels.sms.caps[1].max', 'channels.sms.caps[1].per']) expect(placed.byField.get(path)?.length, path).toBeGreaterThan(0);

    // A cap that is not a number is caught before the API is asked, at the same path.
    form.channels.sms.caps = [newCapRow('day', 'three')];
    expect(formToPolicy(form).issues).toEqual([expect.objectContaining({ path: 'channels.sms.caps[0].max', code: 'invalid_number' })]);
  });

  it('keeps what it has no field for: another channel, and unknown keys for the API to judge', () => {
    const form = policyToForm({ accountId: 'acc', version: 4, channels: { sms: {}, push: { caps: [{ max: 1, per: 'day' }] }, email: { quietHours: { from: '22:00', to: '07:00' }, someday: true } } });
    expect(form.version).toBe(4);
    expect(formToPolicy(form).policy).toEqual({ channels: { sms: {}, push: { caps: [{ max: 1, per: 'day' }] }, email: { quietHours: { from: '22:00', to: '07:00' }, someday: true } } });
  });
});

describe('the Suppressions screen', () => {
  it('adds by hand with a note, looks a recipient up as the list keys it, lists by channel in pages, lifts, and keeps every change', async () => {
    const { client } = await service();
    const added = await client.addSuppression('email', ' Ann@Example.COM ', { reason: 'manual', detail: 'asked on the phone' });
    expect(added).toMatchObject({ created: true, suppression: { channel: 'email', recipient: 'ann@example.com', reason: 'manual', source: 'api', detail: 'asked on the phone' } });
    expect((await client.addSuppression('email', 'ann@example.com', { reason: 'manual' })).created).toBe(false);
    await client.addSuppression('sms', '+15550001111', { reason: 'manual' });
    await client.addSuppression('sms', '+15550002222', { reason: 'manual' });

    const found = await client.lookupSuppression('email', 'ANN@example.com');
    expect(found).toMatchObject({ recipient: 'ann@example.com', suppressed: true, suppression: { reason: 'manual' } });
    if (!found.suppression) throw new Error('no suppression found');
    expect(suppressionText(found.suppression)).toMatch(/^Added by hand, recorded by the API \(.*ui-user\)$/);
    expect(await client.lookupSuppression('sms', '+15559999999')).toMatchObject({ suppressed: false });
    const bad = await client.lookupSuppression('sms', 'not a number').catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'CRM_ERR_POLICY_INVALID' });
    expect((bad as ApiError).issues[0]?.message).not.toBe('');

    const firstPage = await client.listSuppressions({ channel: 'sms', limit: 1 });
    expect(firstPage.items.map((s) => s.channel)).toEqual(['sms']);
    expect(firstPage.nextCursor).toBeDefined();
    const secondPage = await client.listSuppressions({ channel: 'sms', limit: 1, cursor: firstPage.nextCursor });
    expect([...firstPage.items, ...secondPage.items].map((s) => s.recipient).sort()).toEqual(['+15550001111', '+15550002222']);
    expect((await client.listSuppressions({ channel: 'email' })).items.map((s) => s.recipient)).toEqual(['ann@example.com']);

    expect(await client.removeSuppression('email', 'ann@example.com', { reason: 'manual', detail: 'lifted in the Management UI' })).toEqual({ removed: true });
    expect(await client.removeSuppression('email', 'ann@example.com')).toEqual({ removed: false });

    const changes = await client.suppressionChanges({ channel: 'email' });
    expect(changes.items.map((c) => [c.action, c.recipient])).toEqual([
      ['added', 'ann@example.com'],
      ['removed', 'ann@example.com'],
    ]);
    expect(changes.items.map(suppressionChangeText)).toEqual(['Added (added by hand) by the API (api:ui-user): asked on the phone', 'Removed (lifted by hand) by the API (api:ui-user): lifted in the Management UI']);

    const csv = await client.suppressionChangesCsv({ channel: 'sms', limit: 1 });
    const lines = csv.csv.trim().split(/\r?\n/);
    expect(lines[0]).toBe('at,action,channel,recipient,reason,source,by,detail');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('+15550001111');
    expect(csv.nextCursor).toBeDefined();
    expect(changesCsvName('sms', new Date('2030-01-01T09:00:00Z'))).toBe('suppression-changes-sms-2030-01-01.csv');
    expect(changesCsvName('', new Date('2030-01-01T09:00:00Z'))).toBe('suppression-changes-all-2030-01-01.csv');
  });
});

describe("an action's category in the rule form", () => {
  const rule = (category?: 'transactional' | 'marketing') => ({
    name: 'Promo',
    trigger: { eventName: 'job.status.changed' },
    delay: { value: 0, unit: 'minutes' },
    conditions: { all: [] },
    actions: [{ type: 'sms', ...(category ? { category } : {}), params: { recipient: '+15550001111', message: 'Hi' } }],
  });

  it('round-trips exactly: absent stays absent (marketing), a stated one stays stated, through the API', async () => {
    const { answers } = await service();
    for (const category of [undefined, 'marketing', 'transactional'] as const) {
      const saved = await answers.call<SavedRule>('POST', '/rules', rule(category));
      const read = await answers.call<Rule>('GET', `/rules/${saved.id}`);
      const form = ruleToForm(read);
      const action = form.actions[0] as ActionForm;
      expect(action.category).toBe(category ?? '');
      const back = formToRule(form).rule['actions'];
      expect(back).toEqual(read.actions);
      expect(Object.keys((back as Array<Record<string, unknown>>)[0] ?? {})).toEqual(category ? ['type', 'category', 'params'] : ['type', 'params']);
    }
  });

  it('an unknown category is sent back as it was, and the API puts its issue at actions[0].category', async () => {
    const { answers } = await service();
    const form = ruleToForm({ ...rule(), actions: [{ type: 'sms', category: 'promo', params: { recipient: '+15550001111', message: 'Hi' } }] });
    expect((form.actions[0] as ActionForm).category).toBe('');
    const answer = await answers.call<ValidateResult>('POST', '/rules/validate', { rule: formToRule(form).rule });
    expect(answer.valid).toBe(false);
    expect(JSON.stringify(answer)).toContain('actions[0].category');
  });
});

describe('the run view and the dry run say what the contact policy did', () => {
  const promo = { name: 'Promo', trigger: { eventName: 'promo.sent' }, delay: { value: 0, unit: 'minutes' }, conditions: { all: [] }, actions: [{ type: 'sms', params: { recipient: '+15550001111', message: 'Sale!' } }] };

  async function runOnce(policy: ContactPolicyDocument | null, suppress = false): Promise<Trigger> {
    const { client, answers } = await service();
    if (policy) await client.putContactPolicy(policy, 0);
    if (suppress) await client.addSuppression('sms', '+15550001111', { reason: 'manual' });
    const saved = await answers.call<SavedRule>('POST', '/rules', promo);
    await answers.call('POST', '/events', { name: 'promo.sent', payload: {} });
    await answers.engine.runDue();
    const [run] = (await answers.call<TriggerPage>('GET', `/triggers?ruleId=${saved.id}`)).items;
    if (!run) throw new Error('no run');
    return run;
  }
  const format = (iso: string) => `<${iso}>`;

  it('quiet hours: the run is deferred until the window ends, in words, not as a failure', async () => {
    // 09:00 UTC is inside 08:00–10:00 UTC.
    const run = await runOnce({ channels: { sms: { quietHours: { from: '08:00', to: '10:00', timeZone: 'UTC' } } } });
    expect(run.status).toBe('retrying');
    const entry = run.executionHistory.at(-1);
    expect(entry).toMatchObject({ outcome: 'retrying', reason: 'quiet-hours' });
    if (!entry?.nextAttemptAt) throw new Error('no next attempt');
    const until = Date.parse(entry.nextAttemptAt);
    expect(until).toBeGreaterThanOrEqual(Date.parse('2030-01-01T10:00:00Z'));
    expect(until).toBeLessThanOrEqual(Date.parse('2030-01-01T10:02:00Z'));
    expect(contactPolicyEntryText(entry, format)).toBe(`Deferred: quiet hours in the recipient's zone until <${entry.nextAttemptAt}>. This does not count as a failed attempt.`);
    expect(describeReason('quiet-hours')).toBe("Deferred: quiet hours in the recipient's zone");
    // The run's row says it too, without opening the history.
    expect(deferredRunText(run)).toMatch(/^Deferred: quiet hours in the recipient's zone until .+\. This does not count as a failed attempt\.$/);
  });

  it('a full cap with overCap defer reads as deferred by the cap', async () => {
    const { client, answers } = await service();
    await client.putContactPolicy({ channels: { sms: { caps: [{ max: 1, per: 'day' }], overCap: 'defer' } } }, 0);
    const saved = await answers.call<SavedRule>('POST', '/rules', promo);
    await answers.call('POST', '/events', { name: 'promo.sent', id: 'e1', payload: {} });
    await answers.call('POST', '/events', { name: 'promo.sent', id: 'e2', payload: {} });
    await answers.engine.runDue();
    const runs = (await answers.call<TriggerPage>('GET', `/triggers?ruleId=${saved.id}`)).items;
    const deferred = runs.find((r) => r.status === 'retrying');
    const entry = deferred?.executionHistory.at(-1);
    expect(entry).toMatchObject({ outcome: 'retrying', reason: 'capped' });
    if (!entry?.nextAttemptAt) throw new Error('no deferred run');
    expect(contactPolicyEntryText(entry, format)).toBe(`Deferred: the recipient's frequency cap is full until <${entry.nextAttemptAt}>. This does not count as a failed attempt.`);
  });

  it("the account's send throttle: a run over the rate reads as deferred by it, and the throttle round-trips through the form", async () => {
    const { client, answers } = await service();
    const saved = await client.putContactPolicy({ channels: { sms: { throttle: { perSecond: 1, burst: 1 } } } }, 0);
    expect(formToPolicy(policyToForm(saved)).policy.channels).toEqual(saved.channels);
    expect(describePolicy(saved)).toEqual(['Texts: sent at most 1 a second for the whole account (bursts of 1)']);
    const rule = await answers.call<SavedRule>('POST', '/rules', promo);
    await answers.call('POST', '/events', { name: 'promo.sent', id: 'e1', payload: {} });
    await answers.call('POST', '/events', { name: 'promo.sent', id: 'e2', payload: {} });
    await answers.engine.runDue();
    const runs = (await answers.call<TriggerPage>('GET', `/triggers?ruleId=${rule.id}`)).items;
    const entry = runs.find((r) => r.status === 'retrying')?.executionHistory.at(-1);
    expect(entry).toMatchObject({ outcome: 'retrying', reason: 'throttled' });
    if (!entry?.nextAttemptAt) throw new Error('no throttled run');
    expect(contactPolicyEntryText(entry, format)).toBe(`Deferred: over the account's sending rate for this channel until <${entry.nextAttemptAt}>. This does not count as a failed attempt.`);
  });

  it('a suppressed recipient: the action is skipped with its reason in words, and the run says why it ended', async () => {
    const run = await runOnce(null, true);
    expect(run.status).toBe('skipped');
    const entry = run.executionHistory.at(-1);
    expect(entry).toMatchObject({ outcome: 'skipped', reason: 'suppressed', actions: [{ status: 'skipped', reason: 'suppressed' }] });
    const action = entry?.actions?.[0];
    if (!action) throw new Error('no action outcome');
    expect(skippedActionText(action)).toBe('Skipped: the recipient opted out (STOP) or bounced, so nothing was sent');
    expect(skippedActionText({ status: 'skipped', reason: 'capped' })).toBe('Skipped: the recipient already got as many messages as the frequency cap allows');
    expect(skippedActionText({ status: 'sent' })).toBeNull();
    expect(runEndReason(run)).toBe('Skipped: every message of the run went to a recipient who opted out (STOP) or bounced.');
    expect(deferredRunText(run)).toBeNull();
  });

  it("the dry run shows each command's contactPolicy: deferred, counted, skipped", async () => {
    const { client, answers } = await service();
    await client.putContactPolicy({ channels: { sms: { quietHours: { from: '08:00', to: '10:00', timeZone: 'UTC' } }, email: { caps: [{ max: 2, per: 'day' }] } } }, 0);
    await client.addSuppression('sms', '+15550003333', { reason: 'manual' });
    const rule = {
      ...promo,
      actions: [
        { type: 'sms', params: { recipient: '+15550001111', message: 'Sale!' } },
        { type: 'email', params: { recipient: 'ann@example.com', subject: 'Sale', body: 'Sale!' } },
        { type: 'sms', category: 'transactional', params: { recipient: '+15550003333', message: 'Receipt' } },
        { type: 'sms', category: 'transactional', params: { recipient: '+15550001111', message: 'Receipt' } },
      ],
    };
    const answer = await answers.call<ValidateResult>('POST', '/rules/validate', { rule, sample: { payload: {} } });
    if (!answer.valid || !answer.dryRun?.valid) throw new Error(`no dry run: ${JSON.stringify(answer)}`);
    const policies = answer.dryRun.commands.map((c) => c.contactPolicy);
    expect(policies.map((p) => p?.outcome)).toEqual(['deferred', 'counted', 'skipped', undefined]);
    const texts = policies.map((p) => (p ? dryRunContactPolicyText(p, format) : null));
    expect(texts[0]).toMatch(/^Would be deferred: quiet hours in the recipient's zone, until <2030-01-01T10:0\d:\d\d\.\d{3}Z>\.$/);
    expect(texts[1]).toBe('Counts against the frequency caps (2 a day). A dry run does not check whether a cap is full.');
    expect(texts[2]).toBe('Would be skipped: the recipient is on the suppression list (opted out or bounced).');
  });
});
