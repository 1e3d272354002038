import { compileTemplate, resolvePath } from '@crm-automation/core';
import { describe, expect, it } from 'vitest';
import { doneJobPayload } from '@crm-automation/testing';
import type { JsonObject } from '../app/model/json.js';
import { factsFrom, placeholdersFrom, placeholdersIn, sampleValueAt } from '../app/model/placeholders.js';

const awkward: JsonObject = {
  job: {
    number: 'J-1',
    'first name': 'Ann',
    'a-b': 3,
    items: [{ sku: 'X1' }, { sku: 'X2' }],
    flags: { done: true, none: null },
    '0': 'zero',
  },
  account: { plan: 'pro' },
};

describe('placeholders from a sample payload', () => {
  it('offers every value of the design doc payload with its template and JSONPath', () => {
    const found = placeholdersFrom(doneJobPayload as unknown as JsonObject);
    expect(found.map((p) => p.template)).toEqual([
      'job.id',
      'job.number',
      'job.status',
      'job.client.name',
      'job.assignedTechnician.name',
      'job.assignedTechnician.phone',
    ]);
    expect(found.find((p) => p.template === 'job.assignedTechnician.phone')).toEqual({
      template: 'job.assignedTechnician.phone',
      fact: 'job',
      jsonPath: '$.assignedTechnician.phone',
      example: '+15557654321',
    });
    expect(factsFrom(doneJobPayload as unknown as JsonObject)).toEqual(['job']);
  });

  it('writes placeholders that the engine renders and paths that it resolves, awkward keys included', () => {
    const found = placeholdersFrom(awkward);
    expect(found.map((p) => p.template)).toContain('job.[first name]');
    expect(found.map((p) => p.template)).toContain('job.items.[1].sku');
    expect(found.map((p) => p.jsonPath)).toContain("$['first name']");
    for (const p of found) {
      const rendered = compileTemplate(`{{${p.template}}}`)(awkward);
      expect(rendered, p.template).toBe(p.example === null ? '' : String(p.example));
      expect(resolvePath(awkward[p.fact], p.jsonPath), p.jsonPath).toEqual(p.example);
      expect(sampleValueAt(awkward, p.fact, p.jsonPath), p.jsonPath).toEqual(p.example);
    }
  });

  it('stays bounded on large or deep payloads', () => {
    const wide: JsonObject = { job: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])) };
    expect(placeholdersFrom(wide, { max: 50 })).toHaveLength(50);
    let deep: JsonObject = { leaf: 1 };
    for (let i = 0; i < 50; i++) deep = { d: deep };
    expect(placeholdersFrom({ job: deep }, { maxDepth: 8 })).toEqual([]);
    expect(placeholdersFrom({ job: { list: Array.from({ length: 100 }, (_, i) => i) } })).toHaveLength(3);
    expect(placeholdersFrom([] as never)).toEqual([]);
  });

  it('lists the placeholders a template uses', () => {
    expect(placeholdersIn('Hi {{job.assignedTechnician.name}}, job #{{ job.number }} {{{raw}}} {{#if x}}y{{/if}}')).toEqual([
      'job.assignedTechnician.name',
      'job.number',
      'raw',
    ]);
  });

  it('reads sample values at simple JSONPaths only', () => {
    expect(sampleValueAt(doneJobPayload as unknown as JsonObject, 'job', '$.client.name')).toBe('John Smith');
    expect(sampleValueAt(doneJobPayload as unknown as JsonObject, 'job', '$.missing.x')).toBeUndefined();
    expect(sampleValueAt(doneJobPayload as unknown as JsonObject, 'job', '$..name')).toBeUndefined();
    expect(sampleValueAt(doneJobPayload as unknown as JsonObject, 'nope', '$')).toBeUndefined();
    expect(sampleValueAt({ job: { constructor: 1 } } as JsonObject, 'job', '$.toString')).toBeUndefined();
  });
});
