import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createMemoryStore, RuleValidationError, type RuleInput } from '@crm-automation/core';

const ruleTo = (url: string): RuleInput => ({
  name: 'Post new leads',
  trigger: { eventName: 'job.created' },
  conditions: { all: [{ fact: 'job', path: '$.total', operator: 'greaterThan', value: 0 }] },
  actions: [{ type: 'webhook', params: { url, payload: { jobId: '{{job.id}}' } } }],
});

describe('engine default webhook URL check', () => {
  it.each(['http://169.254.169.254/latest/meta-data/', 'http://0x7f.1:8080/hook', 'http://[::ffff:a9fe:a9fe]/', 'http://localhost/hook', 'http://10.0.0.7/hook'])(
    'refuses %s when the rule is saved, naming the path',
    async (url) => {
      const engine = createAutomationEngine({ store: createMemoryStore() });
      const error = await engine.rules.create('acc_1', ruleTo(url)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RuleValidationError);
      expect((error as RuleValidationError).issues).toEqual([
        expect.objectContaining({ path: 'actions[0].params.url', code: 'blocked_address' }),
      ]);
    },
  );

  it('accepts public hosts', async () => {
    const engine = createAutomationEngine({ store: createMemoryStore() });
    await expect(engine.rules.create('acc_1', ruleTo('https://hooks.example.com/new-lead/{{job.id}}'))).resolves.toMatchObject({ name: 'Post new leads' });
  });

  it('webhookAddressPolicy opens private networks or named hosts', async () => {
    const privateOk = createAutomationEngine({ store: createMemoryStore(), webhookAddressPolicy: { allowPrivateNetworks: true } });
    await expect(privateOk.rules.create('acc_1', ruleTo('http://10.0.0.7/hook'))).resolves.toBeDefined();
    await expect(privateOk.rules.create('acc_1', ruleTo('http://169.254.169.254/'))).rejects.toBeInstanceOf(RuleValidationError);

    const named = createAutomationEngine({ store: createMemoryStore(), webhookAddressPolicy: { allowHosts: ['127.0.0.1'] } });
    await expect(named.rules.create('acc_1', ruleTo('http://127.1:9000/hook'))).resolves.toBeDefined();
  });

  it('an explicit checkWebhookUrl replaces the default', async () => {
    const engine = createAutomationEngine({ store: createMemoryStore(), checkWebhookUrl: (url) => (url.hostname === 'blocked.example' ? 'no' : null) });
    await expect(engine.rules.create('acc_1', ruleTo('http://127.0.0.1/hook'))).resolves.toBeDefined();
    await expect(engine.rules.create('acc_1', ruleTo('http://blocked.example/hook'))).rejects.toBeInstanceOf(RuleValidationError);
  });
});
