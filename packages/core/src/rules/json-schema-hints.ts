import type { z } from 'zod';

/**
 * Nodes validated by hand (for precise error paths) are `z.unknown()` to zod's JSON Schema generator;
 * these marks let the rule JSON Schema describe them properly.
 */
export type JsonSchemaHint = 'recipient' | 'conditionGroup' | 'action';

export const JSON_SCHEMA_HINTS = new WeakMap<z.ZodType, JsonSchemaHint>();

export const hinted = <T extends z.ZodType>(schema: T, hint: JsonSchemaHint): T => {
  JSON_SCHEMA_HINTS.set(schema, hint);
  return schema;
};
