import { describe, expect, it } from 'vitest';
import { loadAppConfig, storeKind } from '../src/app/app-config.js';
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

describe('the store of the single-process app', () => {
  it.each([
    ['nothing set: memory', {}, 'memory'],
    ['MONGODB_URI alone: MongoDB, as before STORE existed', { MONGODB_URI: 'mongodb://127.0.0.1:27017' }, 'mongo'],
    ['POSTGRES_URL alone: still memory (STORE chooses PostgreSQL)', { POSTGRES_URL: 'postgres://127.0.0.1:5433/x' }, 'memory'],
    ['STORE=postgres', { STORE: 'postgres', POSTGRES_URL: 'postgres://127.0.0.1:5433/x' }, 'postgres'],
    ['STORE=memory over a MONGODB_URI', { STORE: 'memory', MONGODB_URI: 'mongodb://127.0.0.1:27017' }, 'memory'],
  ])('%s', (_name, env, kind) => {
    expect(storeKind(loadAppConfig(env))).toBe(kind);
  });

  it.each([
    ['STORE=postgres without POSTGRES_URL', { STORE: 'postgres' }, /POSTGRES_URL: required with STORE=postgres/],
    ['STORE=mongo without MONGODB_URI', { STORE: 'mongo' }, /MONGODB_URI: required with STORE=mongo/],
    ['an unknown store', { STORE: 'sqlite' }, /STORE/],
    ['a schema name PostgreSQL would need quoting for', { STORE: 'postgres', POSTGRES_URL: 'postgres://127.0.0.1/x', POSTGRES_SCHEMA: 'My-Schema' }, /POSTGRES_SCHEMA/],
  ])('refuses %s, naming the variable', (_name, env, message) => {
    expect(() => loadAppConfig(env)).toThrow(message);
  });

  it('defaults the database and schema to the CLI’s (the adapters’ default): none is set here', () => {
    const config = loadAppConfig({ MONGODB_URI: 'mongodb://127.0.0.1:27017' });
    expect([config.MONGODB_DB, config.POSTGRES_SCHEMA]).toEqual([undefined, undefined]);
  });
});
