import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { createAutomationEngine, createMemoryBus, createMemoryStore, createRecordingChannel } from '@crm-automation/core';
import { typosOf } from '@crm-automation/testing';
import { createAutomationMetrics, httpMetrics, instrumentBus, instrumentEngine, instrumentGateway } from '../src/index.js';

const METRICS = ['registry', 'defaultLabels', 'processMetrics'];
const registered = async (options: Record<string, unknown>) => {
  const app = Fastify();
  try {
    await app.register(httpMetrics, options as never);
    await app.ready();
  } finally {
    await app.close();
  }
};

// Each function with options it accepts and every key it takes, written out here.
const FACTORIES: Array<[name: string, make: (o: Record<string, unknown>) => unknown, keys: string[]]> = [
  ['createAutomationMetrics', (o) => createAutomationMetrics({ registry: new Registry(), ...o } as never), METRICS],
  ['instrumentEngine', (o) => instrumentEngine(createAutomationEngine({ store: createMemoryStore() }), { registry: new Registry(), ...o } as never), ['metrics', ...METRICS]],
  ['instrumentGateway', (o) => instrumentGateway(createRecordingChannel(), { registry: new Registry(), ...o } as never), ['metrics', 'provider', ...METRICS]],
  ['instrumentBus', (o) => instrumentBus(createMemoryBus(), { registry: new Registry(), ...o } as never), ['metrics', 'name', ...METRICS]],
  ['httpMetrics', (o) => registered({ registry: new Registry(), service: 's', ...o }), ['metrics', 'service', 'path', ...METRICS]],
];

describe.each(FACTORIES)('%s refuses unknown option keys', (name, make, keys) => {
  it.each(keys.flatMap((key) => typosOf(key).map((typo) => [typo, key])))('"%s" is refused, suggesting "%s"', async (typo, key) => {
    let thrown: unknown;
    try {
      await make({ [typo]: 1 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect((thrown as Error).message).toContain(`${name}: unknown option "${typo}" (did you mean "${key}"?)`);
  });

  it('accepts its options', async () => {
    // Throws (and fails the test) if any is refused.
    await make({ processMetrics: false, defaultLabels: { service: 'test' } });
  });
});
