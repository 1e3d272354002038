import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, RESERVED_WEBHOOK_HEADERS, type ChannelGateway } from '@crm-automation/core';
import { createHttpChannels, createSendgridEmail, createTwilioSms, createWebhook } from '@crm-automation/channels';

const SECRET = `whsec_${Buffer.alloc(32, 4).toString('base64')}`;
const rule = (action: { type: string; params: Record<string, unknown> }) => ({
  name: 'r',
  trigger: { eventName: 'job.created' },
  conditions: { all: [] },
  actions: [action],
});
const hook = (params: Record<string, unknown>) => rule({ type: 'webhook', params: { url: 'https://hooks.crm.example/x', ...params } });
const engineWith = (channels: Record<string, ChannelGateway>) => createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-06-01T12:00:00Z'), channels });

describe('an engine validates rules with the schemas of its gateways', () => {
  it("checks webhook destinations with the webhook gateway's own address policy", () => {
    const internal = engineWith({ webhook: createWebhook({ signingSecret: SECRET, allowPrivateNetworks: true }) });
    const strict = engineWith({ webhook: createWebhook({ signingSecret: SECRET }) });
    const named = engineWith({ webhook: createWebhook({ signingSecret: SECRET, allowHosts: ['10.0.0.7'] }) });
    for (const url of ['http://10.0.0.7/hooks/{{job.id}}', 'http://192.168.1.20:8080/h', 'http://[fd00::7]/h']) {
      expect(internal.rules.validate(hook({ url })).ok, url).toBe(true);
      expect(strict.rules.validate(hook({ url })).ok, url).toBe(false);
    }
    expect(named.rules.validate(hook({ url: 'http://10.0.0.7/x' })).ok).toBe(true);
    expect(named.rules.validate(hook({ url: 'http://10.0.0.8/x' })).ok).toBe(false);
    // Metadata endpoints stay blocked whatever the policy.
    expect(internal.rules.validate(hook({ url: 'http://169.254.169.254/latest/' })).ok).toBe(false);
  });

  it.each([...RESERVED_WEBHOOK_HEADERS].flatMap((h) => [h, h.toUpperCase()]))('refuses a rule setting the reserved header %s, as every send would', (name) => {
    const engine = engineWith({ webhook: createWebhook({ signingSecret: SECRET }) });
    const result = engine.rules.validate(hook({ headers: { [name]: 'x' } }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((i) => i.path)).toContainEqual(expect.stringMatching(/^actions\[0\]\.params\.headers/));
  });

  it('SMS and email rules are checked with the gateways\' schemas (core\'s), recipients included', () => {
    const engine = engineWith({
      sms: createTwilioSms({ accountSid: 'AC1', authToken: 't', from: '+15550001111' }),
      email: createSendgridEmail({ apiKey: 'k', from: 'a@crm.example' }),
    });
    expect(engine.rules.validate(rule({ type: 'sms', params: { recipient: '+15557654321', message: 'hi {{job.id}}' } })).ok).toBe(true);
    expect(engine.rules.validate(rule({ type: 'sms', params: { recipient: '555-1234', message: 'hi' } })).ok).toBe(false);
    expect(engine.rules.validate(rule({ type: 'email', params: { recipient: 'a@crm.example', subject: 'Hi\r\nBcc: x@y.example', body: 'b' } })).ok).toBe(false);
    expect(engine.rules.validate(rule({ type: 'email', params: { recipient: 'a@crm.example', subject: 's', body: 'b' } })).ok).toBe(true);
  });

  it('remote (HTTP) channels leave save-time checks to the engine and check commands before sending', () => {
    const channels = createHttpChannels({ baseUrl: 'http://127.0.0.1:1', token: 't' });
    expect(channels['webhook']?.paramsSchema).toBeUndefined();
    expect(channels['webhook']?.commandSchema).toBeDefined();
    const engine = createAutomationEngine({ store: createMemoryStore(), channels, webhookAddressPolicy: { allowPrivateNetworks: true } });
    expect(engine.rules.validate(hook({ url: 'http://10.0.0.7/h' })).ok).toBe(true);
    expect(engine.rules.validate(hook({ headers: { 'webhook-id': 'x' } })).ok).toBe(false);
  });
});
