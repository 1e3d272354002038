import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../src/app/app-config.js';
import { appGateways } from '../src/app/app-gateways.js';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

describe('webhook signing in the single-process app', () => {
  it.each([
    ['console webhooks need no secret', { WEBHOOKS: 'console' }, 'console'],
    ['real webhooks with a secret are signed', { WEBHOOKS: 'real', WEBHOOK_SIGNING_SECRET: SECRET }, 'webhook'],
    ['real webhooks unsigned when said so', { WEBHOOKS: 'real', WEBHOOK_UNSIGNED: 'true' }, 'webhook'],
  ])('%s', (_name, env, gateway) => {
    const config = loadAppConfig(env);
    expect(appGateways(config, () => {}).describe.webhook).toBe(gateway);
  });

  it.each([
    ['real webhooks without a secret', { WEBHOOKS: 'real' }, /WEBHOOK_SIGNING_SECRET: required with WEBHOOKS=real/],
    ['WEBHOOK_UNSIGNED=false without a secret', { WEBHOOKS: 'real', WEBHOOK_UNSIGNED: 'false' }, /WEBHOOK_SIGNING_SECRET/],
    ['a secret and WEBHOOK_UNSIGNED=true', { WEBHOOKS: 'real', WEBHOOK_SIGNING_SECRET: SECRET, WEBHOOK_UNSIGNED: 'true' }, /WEBHOOK_UNSIGNED: contradicts/],
  ])('refuses %s, naming the variable', (_name, env, message) => {
    expect(() => loadAppConfig(env)).toThrow(message);
  });
});
