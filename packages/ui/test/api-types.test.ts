import { createAutomationEngine, TRIGGER_STATUSES as ENGINE_TRIGGER_STATUSES } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ActionOutcome, ConditionTrace, DryRunOk, EventAccepted, Rule, Trigger, TriggerStatus } from '../app/api/types.js';
import { TRIGGER_STATUSES } from '../app/api/types.js';
import type { JsonValue } from '../app/model/json.js';
import { committedApiTypes, generateApiTypes, servedOpenApiDocument, withMissingRuleSchemaDefs } from '../scripts/generate-api-types.js';

describe("the app's API types", () => {
  it('are generated from the OpenAPI document the server serves now (regenerate with `npm run generate:api-types -w @crm-automation/ui`)', async () => {
    const fresh = await generateApiTypes();
    const committed = await committedApiTypes();
    expect(committed === fresh, 'packages/ui/app/api-types.ts is stale: run `npm run generate:api-types -w @crm-automation/ui` and commit it').toBe(true);
  });

  it('come from the served document with every reference resolved, from the rule schema it is built from', async () => {
    const ruleSchema = createAutomationEngine({ store: createMemoryStore() }).rules.jsonSchema();
    const { document } = withMissingRuleSchemaDefs(await servedOpenApiDocument(), ruleSchema);
    const schemas = (document['components'] as { schemas: Record<string, unknown> }).schemas;
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(refs).toContain('RuleDocument');
    for (const name of refs) expect(schemas, name).toHaveProperty([name]);
  });

  it('fill in a definition the document leaves out, and the ones it refers to, from nested $defs', () => {
    const json = { anyOf: [{ $ref: '#/$defs/Text' }, { type: 'array', items: { $ref: '#/$defs/Json' } }] };
    const ruleSchema = { properties: { payload: { $ref: '#/$defs/Json', $defs: { Json: json, Text: { type: 'string' } } } } };
    const document = { openapi: '3.1.0', paths: { '/x': { get: { responses: { 200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Json' } } } } } } } }, components: { schemas: { Error: {} } } };
    const { document: filled, filledIn } = withMissingRuleSchemaDefs(document, ruleSchema);
    expect(filledIn).toEqual(['Json', 'Text']);
    expect((filled['components'] as { schemas: unknown }).schemas).toEqual({
      Error: {},
      Json: { anyOf: [{ $ref: '#/components/schemas/Text' }, { type: 'array', items: { $ref: '#/components/schemas/Json' } }] },
      Text: { type: 'string' },
    });
  });

  it('refuse a document that refers to a schema nobody defines', () => {
    const document = { openapi: '3.1.0', paths: { '/x': { get: { responses: { 200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Missing' } } } } } } } }, components: { schemas: {} } };
    expect(() => withMissingRuleSchemaDefs(document, { $defs: {} })).toThrow(/#\/components\/schemas\/Missing/);
  });

  it('name the wire shapes the server describes', () => {
    expectTypeOf<Rule['delay']['unit']>().toEqualTypeOf<'seconds' | 'minutes' | 'hours' | 'days'>();
    expectTypeOf<Rule['createdAt']>().toEqualTypeOf<string>();
    expectTypeOf<Trigger['status']>().toEqualTypeOf<TriggerStatus>();
    expectTypeOf<ActionOutcome['status']>().toEqualTypeOf<'sent' | 'already-sent' | 'failed' | 'not-attempted' | 'unknown' | 'skipped'>();
    expectTypeOf<DryRunOk['valid']>().toEqualTypeOf<true>();
    // What the document leaves open arrived as JSON text.
    expectTypeOf<ConditionTrace['value']>().toEqualTypeOf<JsonValue>();
    expectTypeOf<EventAccepted['triggers'][number]['evaluateAt']>().toEqualTypeOf<string>();
  });

  it("offer exactly the engine's trigger statuses in the filters", () => {
    expect([...TRIGGER_STATUSES].sort()).toEqual([...ENGINE_TRIGGER_STATUSES].sort());
  });
});
