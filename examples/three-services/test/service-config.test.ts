import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/runtime/env-config.js';
import { triggerServiceEnv } from '../src/trigger-service/config.js';

const base = {
  MONGODB_URI: 'mongodb://127.0.0.1:27017',
  RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
  RULES_SERVICE_TOKEN: 'a-long-enough-token',
  NOTIFICATION_SERVICE_TOKEN: 'another-long-token',
};

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
    expect(attempt({ ...base, LEASE_MS: '15000' })).toEqual(['LEASE_MS']);
  });
});
