import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/runtime/env-config.js';
import { notificationServiceEnv } from '../src/notification-service/config.js';
import { rulesServiceEnv } from '../src/rules-service/config.js';
import { triggerServiceEnv } from '../src/trigger-service/config.js';

const base = {
  MONGODB_URI: 'mongodb://127.0.0.1:27017',
  RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
  RULES_SERVICE_TOKEN: 'a-long-enough-token',
  NOTIFICATION_SERVICE_TOKEN: 'another-long-token',
  SERVICE_TOKENS: 'token-the-rules-service-presents',
};
const rulesBase = { MONGODB_URI: 'mongodb://127.0.0.1:27017', RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672', SERVICE_TOKENS: 'a-long-enough-token', TRIGGER_SERVICE_TOKEN: 'token-the-rules-service-presents' };
const notificationBase = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  SERVICE_TOKENS: 'another-long-token',
  TWILIO_ACCOUNT_SID: 'AC1',
  TWILIO_AUTH_TOKEN: 't',
  TWILIO_FROM: '+15550001111',
  SENDGRID_API_KEY: 'SG.x',
  SENDGRID_FROM: 'a@example.com',
  WEBHOOK_SIGNING_SECRET: 'whsec_abc',
};

/** The variables a configuration refuses, or [] when it loads. */
function refused(service: string, schema: Parameters<typeof loadConfig>[1], env: Record<string, string>): string[] {
  try {
    loadConfig(service, schema, env);
    return [];
  } catch (e) {
    return (e as ConfigError).issues.map((i) => i.variable);
  }
}

describe('service configuration from the environment', () => {
  it('applies defaults whose timeouts nest: provider < notification call < send < lease', () => {
    const config = loadConfig('trigger-service', triggerServiceEnv, base);
    expect(config.NOTIFICATION_TIMEOUT_MS).toBeLessThan(config.SEND_TIMEOUT_MS);
    expect(config.SEND_TIMEOUT_MS * 2).toBeLessThan(config.LEASE_MS);
    expect(config.RULE_LOOKUP).toBe('rest');
  });

  it('names every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig('trigger-service', triggerServiceEnv, { ...base, MONGODB_URI: 'postgres://x', RULE_LOOKUP: 'carrier-pigeon', SEND_TIMEOUT_MS: '1000', NOTIFICATION_TIMEOUT_MS: '5000' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const variables = (error as ConfigError).issues.map((i) => i.variable);
    expect(variables).toEqual(expect.arrayContaining(['MONGODB_URI', 'RULE_LOOKUP']));
    expect((error as ConfigError).message).toContain('trigger-service: invalid configuration');
  });

  it('checks cross-variable rules: the transport address, the token of the lookup pattern, nested timeouts', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        loadConfig('trigger-service', triggerServiceEnv, env);
        return [];
      } catch (e) {
        return (e as ConfigError).issues.map((i) => i.variable);
      }
    };
    expect(attempt({ ...base, TRANSPORT: 'kafka' })).toEqual(['KAFKA_BROKERS']);
    expect(attempt({ ...base, RULES_SERVICE_TOKEN: '' })).toEqual(['RULES_SERVICE_TOKEN']);
    expect(attempt({ ...base, RULES_SERVICE_TOKEN: '', RULE_LOOKUP: 'pubsub' })).toEqual([]);
    expect(attempt({ ...base, SEND_TIMEOUT_MS: '8000' })).toEqual(['SEND_TIMEOUT_MS']);
    // The facts.job loader's own deadline must end a slow CRM call before the engine's bound does.
    expect(attempt({ ...base, CRM_TIMEOUT_MS: '5000' })).toEqual(['FACT_TIMEOUT_MS']);
    expect(attempt({ ...base, LEASE_MS: '15000' })).toEqual(['LEASE_MS']);
    expect(attempt({ ...base, SERVICE_TOKENS: '' })).toEqual(['SERVICE_TOKENS']);
  });

  it('chooses each service’s store by STORE, and asks for that store’s address only', () => {
    const postgres = { STORE: 'postgres', POSTGRES_URL: 'postgres://postgres@127.0.0.1:5433/crm_automation' };
    for (const [service, schema, env] of [['trigger-service', triggerServiceEnv, base], ['rules-service', rulesServiceEnv, rulesBase]] as const) {
      const { MONGODB_URI: _uri, ...withoutMongo } = env;
      expect(refused(service, schema, env)).toEqual([]);
      expect(refused(service, schema, withoutMongo)).toEqual(['MONGODB_URI']);
      expect(refused(service, schema, { ...withoutMongo, STORE: 'postgres' })).toEqual(['POSTGRES_URL']);
      expect(refused(service, schema, { ...withoutMongo, ...postgres })).toEqual([]);
      expect(refused(service, schema, { ...withoutMongo, ...postgres, POSTGRES_SCHEMA: 'Bad-Name' })).toEqual(['POSTGRES_SCHEMA']);
      expect(refused(service, schema, { ...env, STORE: 'sqlite' })).toEqual(['STORE']);
      // The default database and schema are the CLI's and the adapters': crm_automation.
      const config = loadConfig(service, schema, { ...withoutMongo, ...postgres });
      expect(config.POSTGRES_SCHEMA).toBe('crm_automation');
    }
    expect(loadConfig('rules-service', rulesServiceEnv, rulesBase).RULES_DB_NAME).toBeUndefined();
    expect(refused('rules-service', rulesServiceEnv, { ...rulesBase, TRIGGER_SERVICE_TOKEN: '' })).toEqual(['TRIGGER_SERVICE_TOKEN']);

    expect(refused('notification-service', notificationServiceEnv, notificationBase)).toEqual([]);
    const { REDIS_URL: _redis, ...withoutRedis } = notificationBase;
    expect(refused('notification-service', notificationServiceEnv, withoutRedis)).toEqual(['REDIS_URL']);
    expect(refused('notification-service', notificationServiceEnv, { ...withoutRedis, STORE: 'postgres' })).toEqual(['POSTGRES_URL']);
    expect(refused('notification-service', notificationServiceEnv, { ...withoutRedis, ...postgres })).toEqual([]);
  });

  it('serves replies to Twilio numbers only with the auth token and a number-to-account map', () => {
    const replies = { TWILIO_AUTH_TOKEN: 'auth-token', TWILIO_NUMBERS: '+15550001111:acc_12345, +15550002222:acc_other', PUBLIC_URL: 'http://127.0.0.1:4102' };
    const config = loadConfig('trigger-service', triggerServiceEnv, { ...base, ...replies });
    expect([...(config.TWILIO_NUMBERS ?? new Map())]).toEqual([['+15550001111', 'acc_12345'], ['+15550002222', 'acc_other']]);
    expect(loadConfig('trigger-service', triggerServiceEnv, base).TWILIO_NUMBERS).toBeUndefined();
    expect(refused('trigger-service', triggerServiceEnv, { ...base, TWILIO_AUTH_TOKEN: 'auth-token' })).toEqual(['TWILIO_NUMBERS']);
    expect(refused('trigger-service', triggerServiceEnv, { ...base, TWILIO_NUMBERS: replies.TWILIO_NUMBERS })).toEqual(['TWILIO_AUTH_TOKEN']);
    for (const numbers of ['5550001111:acc_12345', '+15550001111', '+15550001111:', '+15550001111:acc:1']) {
      expect(refused('trigger-service', triggerServiceEnv, { ...base, ...replies, TWILIO_NUMBERS: numbers }), numbers).toEqual(['TWILIO_NUMBERS']);
    }
    // The signature covers the URL Twilio called: a query or fragment cannot be part of it.
    expect(refused('trigger-service', triggerServiceEnv, { ...base, ...replies, PUBLIC_URL: 'http://127.0.0.1:4102/?x=1' })).toEqual(['PUBLIC_URL']);
  });
});
