import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_OPERATORS, CORE_OPERATORS } from '@crm-automation/core';
import { typosOf } from '@crm-automation/testing';
import { OPERATORS, operatorLabel } from '../app/model/operators.js';
import { managementUi } from '../src/index.js';

describe('operator labels of the form builder', () => {
  it('offers exactly the engine\'s built-in operators', () => {
    expect(OPERATORS.map((o) => o.name).sort()).toEqual([...BUILT_IN_OPERATORS, ...CORE_OPERATORS].sort());
  });

  it.each([...BUILT_IN_OPERATORS, ...CORE_OPERATORS])('labels %s with the name a rule\'s JSON uses, then a short hint', (name) => {
    const label = operatorLabel(name);
    expect(label.startsWith(`${name} (`)).toBe(true);
    expect(label).toMatch(/^\w+ \([^()]{1,20}\)$/);
  });

  it('labels an operator it does not know with its name alone', () => {
    expect(operatorLabel('isWeekday')).toBe('isWeekday');
  });
});

describe('managementUi options', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'crm-ui-options-'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><html><head><meta name="crm-api-base" content="" /></head><body></body></html>');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const register = async (options: Record<string, unknown>) => {
    const app = Fastify();
    try {
      await app.register(managementUi, options as never);
      await app.ready();
    } finally {
      await app.close();
    }
  };

  it.each(['prefix', 'apiBase', 'root'].flatMap((key) => typosOf(key).map((typo) => [typo, key])))('"%s" is refused, suggesting "%s"', async (typo, key) => {
    const error: unknown = await register({ root, [typo]: '/x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect((error as Error).message).toContain(`managementUi: unknown option "${typo}" (did you mean "${key}"?)`);
  });

  it('accepts its options and Fastify\'s registration options', async () => {
    await expect(register({ root, prefix: '/admin', apiBase: '/api', logLevel: 'warn' })).resolves.toBeUndefined();
  });
});
