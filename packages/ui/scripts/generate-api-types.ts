// `npm run generate:api-types -w @crm-automation/ui`: writes app/api-types.ts, the TypeScript types of
// the Rules Service API, from the OpenAPI document `rulesRoutes` serves at GET /openapi.json. The
// document is built in this process (Fastify's inject: no server, no network), so the app's types are
// the server's own schemas; test/api-types.test.ts fails when the committed file is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createAutomationEngine } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { rulesRoutes } from '@crm-automation/http';
import Fastify from 'fastify';
import openapiTS, { astToString, UNKNOWN, type OpenAPI3, type SchemaObject, type TransformNodeOptions } from 'openapi-typescript';

export const API_TYPES_FILE = fileURLToPath(new URL('../app/api-types.ts', import.meta.url));

type JsonSchemaObject = Record<string, unknown>;

/** The document as `GET /openapi.json` answers it, from a rules service over an empty memory store. */
export async function servedOpenApiDocument(): Promise<JsonSchemaObject> {
  const app = Fastify({ logger: false });
  try {
    // The document route needs no credentials; nothing else is called.
    await app.register(rulesRoutes, { engine: createAutomationEngine({ store: createMemoryStore() }), authenticate: async () => null });
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    if (response.statusCode !== 200) throw new Error(`GET /openapi.json answered ${response.statusCode}: ${response.body}`);
    return response.json<JsonSchemaObject>();
  } finally {
    await app.close();
  }
}

const isObject = (value: unknown): value is JsonSchemaObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every `$defs` entry of a schema, at any depth. */
function nestedDefs(node: unknown, found: Map<string, unknown> = new Map()): Map<string, unknown> {
  if (Array.isArray(node)) for (const item of node) nestedDefs(item, found);
  if (!isObject(node)) return found;
  for (const [key, value] of Object.entries(node)) {
    if (key === '$defs' && isObject(value)) for (const [name, def] of Object.entries(value)) found.set(name, def);
    nestedDefs(value, found);
  }
  return found;
}

const localRefs = (node: unknown, found: Set<string> = new Set()): Set<string> => {
  if (Array.isArray(node)) for (const item of node) localRefs(item, found);
  if (!isObject(node)) return found;
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) found.add(value.slice('#/components/schemas/'.length));
    else localRefs(value, found);
  }
  return found;
};

/**
 * Fills in schemas the document refers to but leaves out. The served document hoists only the rule
 * schema's top-level `$defs`; one nested deeper (the JSON value of a webhook payload, `__schema0`) is
 * referred to but dropped, and openapi-typescript refuses a dangling `$ref`. It is taken from the
 * engine's own rule schema, the same one the document is built from. Once the server hoists nested
 * definitions itself, there is nothing to fill in and the output stays the same.
 */
export function withMissingRuleSchemaDefs(document: JsonSchemaObject, ruleSchema: unknown): { document: JsonSchemaObject; filledIn: string[] } {
  const components = isObject(document['components']) ? document['components'] : {};
  const schemas = isObject(components['schemas']) ? components['schemas'] : {};
  const available = nestedDefs(ruleSchema);
  const filled: JsonSchemaObject = { ...schemas };
  const filledIn: string[] = [];
  for (let pending = [...localRefs(document)]; pending.length > 0; ) {
    const next: string[] = [];
    for (const name of pending) {
      if (name in filled) continue;
      const def = available.get(name);
      if (def === undefined) throw new Error(`the OpenAPI document refers to #/components/schemas/${name}, which neither it nor the rule schema defines`);
      const rewritten = JSON.parse(JSON.stringify(def).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchemaObject;
      delete rewritten['$defs'];
      filled[name] = rewritten;
      filledIn.push(name);
      next.push(...localRefs(rewritten));
    }
    pending = next;
  }
  return { document: { ...document, components: { ...components, schemas: filled } }, filledIn };
}

/**
 * A union that contains itself (the JSON value of a webhook payload: a string, number, ..., an array or
 * an object of JSON values) becomes `unknown`: openapi-typescript writes it as an indexed access to
 * itself, which TypeScript refuses (TS2502). The app reads `unknown` in a body as a JSON value.
 */
function selfReferringUnionAsUnknown(schema: SchemaObject, { path }: TransformNodeOptions) {
  const union = 'anyOf' in schema ? schema.anyOf : 'oneOf' in schema ? schema.oneOf : undefined;
  if (path === undefined || !Array.isArray(union)) return undefined;
  return JSON.stringify(union).includes(`"$ref":${JSON.stringify(path)}`) ? UNKNOWN : undefined;
}

const HEADER = `/**
 * Generated by scripts/generate-api-types.ts from the OpenAPI document of the Rules Service
 * (\`rulesRoutes\`, GET /openapi.json). Do not edit: run \`npm run generate:api-types -w @crm-automation/ui\`.
 * It stays one file, however long: it is the document's types as generated, read through the names
 * app/api/types.ts gives the shapes the app uses.
 */
`;

/** The text of app/api-types.ts for the document the server serves now. */
export async function generateApiTypes(): Promise<string> {
  const served = await servedOpenApiDocument();
  const ruleSchema = createAutomationEngine({ store: createMemoryStore() }).rules.jsonSchema();
  const { document } = withMissingRuleSchemaDefs(served, ruleSchema);
  const ast = await openapiTS(document as unknown as OpenAPI3, { silent: true, emptyObjectsUnknown: true, transform: selfReferringUnionAsUnknown });
  return `${HEADER}\n${astToString(ast)}`;
}

/** The committed file, for the staleness test. */
export const committedApiTypes = () => readFile(API_TYPES_FILE, 'utf8');

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(API_TYPES_FILE, await generateApiTypes());
  console.log(`wrote ${API_TYPES_FILE}`);
}
