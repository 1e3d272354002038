import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, isAutomationError, type ChannelGateway } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { createWebhook } from '@crm-automation/channels';

const SECRET = `whsec_${Buffer.alloc(32, 4).toString('base64')}`;
const hook = (url: string) => ({ name: 'r', trigger: { eventName: 'job.created' }, conditions: { all: [] }, actions: [{ type: 'webhook', params: { url } }] });
const engine = (webhook: ChannelGateway, webhookAddressPolicy?: { allowPrivateNetworks?: boolean; allowHosts?: string[] }) =>
  createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-06-01T12:00:00Z'), channels: { webhook }, ...(webhookAddressPolicy ? { webhookAddressPolicy } : {}) });
const configError = (make: () => unknown): string => {
  try {
    make();
  } catch (error) {
    if (isAutomationError(error) && error.code === 'CRM_ERR_CONFIG') return error.message;
    throw error;
  }
  throw new Error('expected CRM_ERR_CONFIG');
};

describe('the webhook address policy is configured once, on the gateway', () => {
  it('the gateway says its policy, in canonical form', () => {
    expect(createWebhook({ unsigned: true }).addressPolicy).toEqual({ allowPrivateNetworks: false, allowHosts: [] });
    expect(createWebhook({ unsigned: true, allowHosts: ['Hooks.Internal.', 'a.example', 'hooks.internal'], allowPrivateNetworks: true }).addressPolicy).toEqual({
      allowPrivateNetworks: true,
      allowHosts: ['a.example', 'hooks.internal'],
    });
  });

  it('an engine with the gateway needs no policy of its own: rules are validated with the gateway\'s', () => {
    const e = engine(createWebhook({ signingSecret: SECRET, allowHosts: ['10.0.0.7'] }));
    expect(e.rules.validate(hook('http://10.0.0.7/x')).ok).toBe(true);
    expect(e.rules.validate(hook('http://10.0.0.8/x')).ok).toBe(false);
  });

  it('the same policy given to the engine too is tolerated, in any spelling', () => {
    const e = engine(createWebhook({ signingSecret: SECRET, allowHosts: ['Hooks.Internal', '10.0.0.7'] }), { allowHosts: ['10.0.0.7', 'hooks.internal.'], allowPrivateNetworks: false });
    expect(e.rules.validate(hook('http://10.0.0.7/x')).ok).toBe(true);
  });

  it.each([
    [{ allowPrivateNetworks: true }, {}],
    [{}, { allowHosts: ['10.0.0.7'] }],
    [{ allowHosts: ['10.0.0.8'] }, { allowHosts: ['10.0.0.7'] }],
    [{ allowPrivateNetworks: false, allowHosts: ['a.example', 'b.example'] }, { allowHosts: ['a.example'] }],
  ])('a different policy on the engine (%j) than on the gateway (%j) is refused, not silently ignored', (enginePolicy, gatewayPolicy) => {
    const message = configError(() => engine(createWebhook({ signingSecret: SECRET, ...gatewayPolicy }), enginePolicy));
    expect(message).toMatch(/webhookAddressPolicy differs from the webhook gateway's policy/);
  });

  it('a custom webhook gateway with its own schema but no stated policy cannot be given an engine policy', () => {
    const custom: ChannelGateway = { send: async () => undefined, paramsSchema: { safeParse: () => ({ success: true }) } };
    expect(configError(() => engine(custom, { allowPrivateNetworks: true }))).toMatch(/does not say which/);
  });

  it('a custom webhook gateway without a schema is validated with the engine\'s policy, which then applies', () => {
    const plain: ChannelGateway = { send: async () => undefined };
    expect(engine(plain, { allowHosts: ['10.0.0.7'] }).rules.validate(hook('http://10.0.0.7/x')).ok).toBe(true);
    expect(engine(plain).rules.validate(hook('http://10.0.0.7/x')).ok).toBe(false);
  });
});
