import { describe, expect, it } from 'vitest';
import { decodeSigningSecret, signWebhookPayload, standardWebhookHeaders } from '@crm-automation/channels';
import { verifyStandardWebhook } from './support/standard-webhooks-verifier.js';

// The Standard Webhooks reference test vector ("sign function works" in the spec repository's
// libraries/javascript/src/webhook.test.ts).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('Standard Webhooks signing', () => {
  it('reproduces the published test vector', () => {
    expect(signWebhookPayload(decodeSigningSecret(VECTOR.secret), VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('the independent test verifier accepts the published vector and rejects a changed body', async () => {
    const headers = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature };
    await expect(verifyStandardWebhook(VECTOR.secret, headers, VECTOR.body, VECTOR.timestamp)).resolves.toEqual({ ok: true });
    await expect(verifyStandardWebhook(VECTOR.secret, headers, '{"test": 2432232315}', VECTOR.timestamp)).resolves.toMatchObject({ ok: false });
    await expect(verifyStandardWebhook(VECTOR.secret, headers, VECTOR.body, VECTOR.timestamp + 301)).resolves.toMatchObject({ ok: false });
  });

  it('signs with every secret during a rotation, and either secret verifies', async () => {
    const next = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const headers = standardWebhookHeaders([decodeSigningSecret(VECTOR.secret), decodeSigningSecret(next)], VECTOR.id, VECTOR.timestamp, VECTOR.body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(headers['webhook-signature'].split(' ')[0]).toBe(VECTOR.signature);
    await expect(verifyStandardWebhook(VECTOR.secret, { ...headers }, VECTOR.body, VECTOR.timestamp)).resolves.toEqual({ ok: true });
    await expect(verifyStandardWebhook(next, { ...headers }, VECTOR.body, VECTOR.timestamp)).resolves.toEqual({ ok: true });
    await expect(verifyStandardWebhook(`whsec_${Buffer.alloc(32, 9).toString('base64')}`, { ...headers }, VECTOR.body, VECTOR.timestamp)).resolves.toMatchObject({ ok: false });
  });

  it('refuses secrets that are not base64 or shorter than 24 bytes', () => {
    expect(() => decodeSigningSecret('whsec_not base64!')).toThrow(/base64/);
    expect(() => decodeSigningSecret(`whsec_${Buffer.alloc(16).toString('base64')}`)).toThrow(/24 bytes/);
    expect(decodeSigningSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toHaveLength(24);
  });
});
