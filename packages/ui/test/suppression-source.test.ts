import { describe, expect, it } from 'vitest';
import { ApiError, createApiClient } from '../app/api/client.js';
import type { SuppressionEntry } from '../app/api/types.js';
import { suppressionChangeText, suppressionText } from '../app/model/contact-outcome.js';
import { UI_LIFT, uiSuppressionEntry } from '../app/model/manual-suppression.js';
import { rulesApiPerTest } from './rules-api-answers.js';

const openRulesApi = rulesApiPerTest();

describe('a suppression changed on the Suppressions screen', () => {
  it('is recorded as made in the Management UI, on add and on lift, by the signed-in key', async () => {
    const api = await openRulesApi();
    const client = createApiClient({ base: await api.origin(), apiKey: api.apiKey });

    expect(uiSuppressionEntry('  asked on the phone ')).toEqual({ reason: 'manual', source: 'ui', detail: 'asked on the phone' });
    expect(uiSuppressionEntry('   ')).toEqual({ reason: 'manual', source: 'ui' });
    const { suppression } = await client.addSuppression('sms', '+15550001111', uiSuppressionEntry('asked on the phone'));
    expect(suppression).toMatchObject({ recipient: '+15550001111', reason: 'manual', source: 'ui', detail: 'asked on the phone', by: expect.stringMatching(/^api:/) });
    expect(suppressionText(suppression)).toMatch(/^Added by hand, recorded by the Management UI \(api:.+\)$/);
    expect(await client.removeSuppression('sms', '+15550001111', UI_LIFT)).toEqual({ removed: true });

    const changes = await client.suppressionChanges({ recipient: '+15550001111' });
    expect(changes.items.map((c) => [c.action, c.source])).toEqual([
      ['added', 'ui'],
      ['removed', 'ui'],
    ]);
    expect(changes.items.map(suppressionChangeText)).toEqual([
      expect.stringMatching(/^Added \(added by hand\) by the Management UI \(api:.+\): asked on the phone$/),
      expect.stringMatching(/^Removed \(lifted by hand\) by the Management UI \(api:.+\): lifted in the Management UI$/),
    ]);
  });

  it('stays the API’s when the client names no source, and a source the API does not take is refused at its path', async () => {
    const api = await openRulesApi();
    const client = createApiClient({ base: await api.origin(), apiKey: api.apiKey });
    expect((await client.addSuppression('email', 'ann@example.com', { reason: 'manual' })).suppression.source).toBe('api');
    const refused = await client.addSuppression('email', 'bob@example.com', { reason: 'manual', source: 'engine' } as unknown as SuppressionEntry).catch((e: unknown) => e);
    if (!(refused instanceof ApiError)) throw new Error(`the add did not fail: ${String(refused)}`);
    expect(refused).toMatchObject({ status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
    expect(refused.issues.map((i) => i.path)).toEqual(['body.source']);
    expect((await client.lookupSuppression('email', 'bob@example.com')).suppressed).toBe(false);
  });
});
