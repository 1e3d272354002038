/**
 * The Rules API's part of entity-aware rules (issue 16): keyed rules' runs listed by entity, the
 * supersede and cancel outcomes as the trigger routes show them, and dry runs with a current-state
 * sample. Runs inside the Rules API suite (both topologies), so every answer here is also checked
 * against the OpenAPI document by the suite's last test.
 */
import { describe, expect, it } from 'vitest';
import type { AutomationEngine } from '@crm-automation/core';
import type { ManualClock } from '@crm-automation/testing/doubles';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';
import { eventPoster, isoAfter, json, type Json, type RulesApiCall } from './support/rules-api-calls.js';

export interface EntityRoutesContext {
  call: RulesApiCall;
  clock: ManualClock;
  /** The engine that runs due triggers (the trigger service's in that topology). */
  runner: () => AutomationEngine;
  /** What the engines' `facts.job` loader answers for a job id: the CRM's job now (`null`: deleted). */
  currentJobs: Map<string, unknown>;
}

const MINUTE = 60_000;

/** A job-status payload for job `id`, the design doc's job otherwise. */
const jobPayload = (id: string, extra: Record<string, unknown> = {}) => ({ job: { ...doneJobPayload.job, id, ...extra } });

export function describeEntityRoutes(ctx: EntityRoutesContext): void {
  const { call, clock } = ctx;
  const at = isoAfter;
  const event = eventPoster(call);
  const listed = async (query: string) => {
    const response = await call({ url: `/triggers?${query}` });
    expect(response.statusCode, response.body).toBe(200);
    return json(response)['items'] as Json[];
  };

  describe('entities: keys, supersede, cancel events, current state', () => {
    it('lists a keyed rule’s runs by entity; a newer event supersedes the pending run, due no later than maxWait after the first', async () => {
      const rule = json(
        await call({
          method: 'POST',
          url: '/rules',
          payload: { ...technicianSmsRule, name: 'Debounced', trigger: { eventName: 'entity.debounce', key: '$.job.id' }, concurrency: { mode: 'supersede', maxWait: { value: 8, unit: 'minutes' } } },
        }),
      );
      expect(rule).toMatchObject({ trigger: { eventName: 'entity.debounce', key: '$.job.id' }, concurrency: { mode: 'supersede', maxWait: { value: 8, unit: 'minutes' } } });
      const t0 = clock.now();
      const first = (await event('entity.debounce', 'deb-1', jobPayload('J1'), at(t0, 0)))['triggers'][0];
      expect(first).toMatchObject({ ruleId: rule['id'], status: 'pending', entityKey: 'J1', evaluateAt: at(t0, 5 * MINUTE) });
      await event('entity.debounce', 'deb-other', jobPayload('J2'), at(t0, MINUTE));
      const second = (await event('entity.debounce', 'deb-2', jobPayload('J1'), at(t0, 2 * MINUTE)))['triggers'][0];
      expect(second).toMatchObject({ status: 'pending', entityKey: 'J1', evaluateAt: at(t0, 7 * MINUTE) });
      // Pushed out to 4 + 5 minutes, but the first event was 8 minutes before that: capped.
      const third = (await event('entity.debounce', 'deb-3', jobPayload('J1'), at(t0, 4 * MINUTE)))['triggers'][0];
      expect(third).toMatchObject({ status: 'pending', evaluateAt: at(t0, 8 * MINUTE) });
      // Older than the pending run's event: stored finished, the pending run stays.
      const stale = (await event('entity.debounce', 'deb-late', jobPayload('J1'), at(t0, 3 * MINUTE)))['triggers'][0];
      expect(stale['status']).toBe('cancelled');

      const ofJ1 = await listed(`ruleId=${rule['id']}&entityKey=J1`);
      expect(ofJ1.map((t) => t['id']).sort()).toEqual([first['id'], second['id'], third['id'], stale['id']].sort());
      expect(ofJ1.every((t) => t['entityKey'] === 'J1')).toBe(true);
      const pending = await listed(`ruleId=${rule['id']}&entityKey=J1&status=pending`);
      expect(pending.map((t) => t['id'])).toEqual([third['id']]);
      expect(pending[0]).toMatchObject({ firstEventAt: at(t0, 0), evaluateAt: at(t0, 8 * MINUTE) });
      expect((await listed(`entityKey=J2`)).map((t) => t['entityKey'])).toEqual(['J2']);
      expect(await listed(`entityKey=nobody`)).toEqual([]);

      const replaced = json(await call({ url: `/triggers/${first['id']}` }));
      expect(replaced).toMatchObject({ status: 'cancelled', entityKey: 'J1' });
      expect(replaced['executionHistory']).toEqual([
        expect.objectContaining({ outcome: 'superseded', reason: 'superseded', triggerId: second['id'], event: { id: 'deb-2', name: 'entity.debounce' } }),
      ]);
      const staleRun = json(await call({ url: `/triggers/${stale['id']}` }));
      expect(staleRun['executionHistory']).toEqual([expect.objectContaining({ outcome: 'superseded', reason: 'stale', triggerId: third['id'] })]);

      await clock.advance(8 * MINUTE);
      await ctx.runner().runDue();
      expect((await listed(`ruleId=${rule['id']}&entityKey=J1&status=completed`)).map((t) => t['id'])).toEqual([third['id']]);
      expect((await listed(`ruleId=${rule['id']}&entityKey=J2&status=completed`))).toHaveLength(1);
    });

    it('a cancelling event cancels the entity’s older pending run and the run names it; a late, older cancel does not', async () => {
      const rule = json(
        await call({
          method: 'POST',
          url: '/rules',
          payload: {
            ...technicianSmsRule,
            name: 'Reminder',
            trigger: { eventName: 'entity.booked', key: '$.job.id' },
            cancelOn: [{ eventName: 'entity.cancelled', conditions: { all: [{ fact: 'job', path: '$.reason', operator: 'notEqual', value: 'test' }] } }],
          },
        }),
      );
      expect(rule['cancelOn']).toEqual([{ eventName: 'entity.cancelled', conditions: { all: [{ fact: 'job', path: '$.reason', operator: 'notEqual', value: 'test' }] } }]);
      const t0 = clock.now();
      const booked = (await event('entity.booked', 'book-3', jobPayload('J3'), at(t0, 0)))['triggers'][0];
      const other = (await event('entity.booked', 'book-4', jobPayload('J4'), at(t0, 0)))['triggers'][0];
      const later = (await event('entity.booked', 'book-5', jobPayload('J5'), at(t0, 10_000)))['triggers'][0];

      // Its conditions decide: this one does not cancel.
      await event('entity.cancelled', 'cancel-test', jobPayload('J3', { reason: 'test' }), at(t0, 1_000));
      expect(json(await call({ url: `/triggers/${booked['id']}` }))['status']).toBe('pending');
      const cancelling = await event('entity.cancelled', 'cancel-3', jobPayload('J3', { reason: 'client' }), at(t0, 2_000));
      expect(cancelling['triggers']).toEqual([]);
      const cancelled = json(await call({ url: `/triggers/${booked['id']}` }));
      expect(cancelled).toMatchObject({ status: 'cancelled', entityKey: 'J3' });
      expect(cancelled['executionHistory']).toEqual([expect.objectContaining({ outcome: 'cancelled', reason: 'cancelled-by-event', event: { id: 'cancel-3', name: 'entity.cancelled' } })]);
      expect(json(await call({ url: `/triggers/${other['id']}` }))['status']).toBe('pending');

      await event('entity.cancelled', 'cancel-5-old', jobPayload('J5', { reason: 'client' }), at(t0, 5_000));
      expect(json(await call({ url: `/triggers/${later['id']}` }))['status']).toBe('pending');
      expect((await listed(`ruleId=${rule['id']}&status=cancelled`)).map((t) => t['entityKey'])).toEqual(['J3']);
      // The builder offers the cancelling event's name too.
      expect(json(await call({ url: '/event-types' }))['items'].map((t: { name: string }) => t.name)).toContain('entity.cancelled');
    });

    it('dry-runs a rule on current state: the current sample replaces the fact, and the trace keeps the event’s value', async () => {
      const rule = { ...technicianSmsRule, trigger: { eventName: 'job.status.changed', key: '$.job.id' }, evaluate: 'current' };
      const reopened = { job: { ...doneJobPayload.job, status: 'Scheduled' } };
      const response = await call({ method: 'POST', url: '/rules/validate', payload: { rule, sample: { payload: doneJobPayload, current: reopened } } });
      expect(response.statusCode, response.body).toBe(200);
      const body = json(response);
      expect(body).toMatchObject({ valid: true, rule: { evaluate: 'current' }, dryRun: { matched: false, commands: [], currentFacts: ['job'] } });
      expect(body['dryRun']['conditions'][0]).toMatchObject({ factPath: '$.status', factResult: 'Scheduled', eventValue: 'Done', result: false });
      const asEvent = json(await call({ method: 'POST', url: '/rules/validate', payload: { rule, sample: { payload: doneJobPayload, current: doneJobPayload } } }));
      expect(asEvent['dryRun']['matched']).toBe(true);

      const gone = json(await call({ method: 'POST', url: '/rules/validate', payload: { rule, sample: { payload: doneJobPayload, current: { job: null } } } }));
      expect(gone['dryRun']).toMatchObject({ matched: false, skipped: 'entity-missing' });

      const bad = await call({ method: 'POST', url: '/rules/validate', payload: { rule, sample: { payload: doneJobPayload, current: [reopened] } } });
      expect(bad.statusCode).toBe(400);
      expect(json(bad)['error']['issues'][0]['path']).toBe('body.sample.current');

      // A saved rule's test takes the same sample.
      const saved = json(await call({ method: 'POST', url: '/rules', payload: { ...rule, trigger: { eventName: 'entity.current', key: '$.job.id' } } }));
      const tested = json(await call({ method: 'POST', url: `/rules/${saved['id']}/test`, payload: { payload: doneJobPayload, current: reopened } }));
      expect(tested).toMatchObject({ valid: true, matched: false, currentFacts: ['job'] });
    });

    it('runs a rule on current state: a re-opened job sends nothing, a deleted one skips as entity-missing, and the run shows both values', async () => {
      const rule = json(await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, name: 'Current', trigger: { eventName: 'entity.fired', key: '$.job.id' }, evaluate: 'current' } }));
      const t0 = clock.now();
      const reopened = (await event('entity.fired', 'fire-1', jobPayload('J7'), at(t0, 0)))['triggers'][0];
      const deleted = (await event('entity.fired', 'fire-2', jobPayload('J8'), at(t0, 0)))['triggers'][0];
      const done = (await event('entity.fired', 'fire-3', jobPayload('J9'), at(t0, 0)))['triggers'][0];
      ctx.currentJobs.set('J7', { ...doneJobPayload.job, id: 'J7', status: 'Scheduled' });
      ctx.currentJobs.set('J8', null);
      await clock.advance(5 * MINUTE);
      await ctx.runner().runDue();
      const run = async (id: string) => json(await call({ url: `/triggers/${id}` }));
      const skipped = await run(reopened['id']);
      expect(skipped).toMatchObject({ status: 'skipped', executionHistory: [{ outcome: 'skipped', reason: 'conditions-not-met' }] });
      expect(skipped['executionHistory'][0]['conditions'][0]).toMatchObject({ factPath: '$.status', factResult: 'Scheduled', eventValue: 'Done', result: false });
      expect(await run(deleted['id'])).toMatchObject({ status: 'skipped', executionHistory: [{ outcome: 'skipped', reason: 'entity-missing' }] });
      expect((await run(done['id']))['status']).toBe('completed');
      expect((await listed(`ruleId=${rule['id']}&status=completed`)).map((t) => t['entityKey'])).toEqual(['J9']);
    });

    it('refuses an entity filter that no trigger can have, naming the parameter', async () => {
      for (const query of ['entityKey=', `entityKey=${'k'.repeat(257)}`]) {
        const response = await call({ url: `/triggers?${query}` });
        expect(response.statusCode, query).toBe(400);
        expect(json(response)['error']['issues'][0]['path']).toBe('query.entityKey');
      }
    });

    it('documents the entity fields: the filter, the rule document’s keys, the trigger’s entity and outcomes', async () => {
      const doc = json(await call({ url: '/openapi.json', key: null }));
      const parameters = doc['paths']['/triggers']['get']['parameters'].map((p: { name: string }) => p.name);
      expect(parameters).toContain('entityKey');
      const ruleDocument = doc['components']['schemas']['RuleDocument'];
      expect(Object.keys(ruleDocument['properties'])).toEqual(expect.arrayContaining(['cancelOn', 'concurrency', 'evaluate']));
      const trigger = doc['paths']['/triggers/{id}']['get']['responses']['200']['content']['application/json']['schema'];
      expect(Object.keys(trigger['properties'])).toEqual(expect.arrayContaining(['entityKey', 'firstEventAt', 'cancelRequested']));
      expect(trigger['properties']['executionHistory']['items']['properties']['outcome']['enum']).toContain('superseded');
    });
  });
}
