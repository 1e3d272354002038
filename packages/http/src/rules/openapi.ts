import { z } from 'zod';
import type { RouteDefinition } from './routes.js';

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

const DEFAULT_INFO: OpenApiInfo = {
  title: 'CRM Automation Rules Service',
  version: '0.1.0',
  description: 'Rules, triggers and event intake, scoped to the account of the bearer credential. Errors are `{ error: { code, message, issues? } }`.',
};

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json['$schema'];
  return json;
}

/** Moves a schema's `$defs` into `components.schemas` and rewrites its refs, so documents stay valid. */
function hoistDefs(schema: Record<string, unknown>, components: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const defs = schema['$defs'] as Record<string, unknown> | undefined;
  if (!defs) return schema;
  const rename = (name: string) => `${prefix}${name}`;
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (typeof node !== 'object' || node === null) return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === '$defs') continue;
      out[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/$defs/') ? `#/components/schemas/${rename(value.slice(8))}` : rewrite(value);
    }
    return out;
  };
  for (const [name, def] of Object.entries(defs)) components[rename(name)] = rewrite(def);
  return rewrite(schema) as Record<string, unknown>;
}

const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}');

/**
 * The OpenAPI 3.1 document of a route table, from the same zod schemas the routes parse with, and
 * the engine's own schemas of the documents it validates itself (rules, contact policies).
 */
export function buildOpenApiDocument(routes: readonly RouteDefinition[], ruleSchema: Record<string, unknown>, info: Partial<OpenApiInfo> = {}, contactPolicySchema?: Record<string, unknown>): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  components['RuleDocument'] = hoistDefs(ruleSchema, components, '');
  if (contactPolicySchema) components['ContactPolicyDocument'] = hoistDefs(contactPolicySchema, components, 'ContactPolicy');
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = toOpenApiPath(route.url);
    const parameters: unknown[] = [...route.url.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (route.query) {
      const query = jsonSchemaOf(route.query, 'input');
      const required = new Set((query['required'] as string[] | undefined) ?? []);
      for (const [name, schema] of Object.entries((query['properties'] as Record<string, unknown> | undefined) ?? {})) {
        parameters.push({ name, in: 'query', required: required.has(name), schema, ...(name === 'status' || name === 'state' ? { style: 'form', explode: true } : {}) });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(route.responses)) {
      responses[status] = schema
        ? { description: `${status}`, content: { 'application/json': { schema: hoistDefs(jsonSchemaOf(schema, 'output'), components, '') } } }
        : { description: status === '200' ? 'OK' : 'No content', ...(status === '200' ? { content: { 'application/json': { schema: { type: 'object' } } } } : {}) };
    }
    const ok = responses['200'] as { description: string; content?: Record<string, unknown> } | undefined;
    if (route.csv && ok) {
      ok.content = { ...ok.content, 'text/csv': { schema: { type: 'string', description: route.csv } } };
      ok.description = `${ok.description} (JSON, or CSV with Accept: text/csv)`;
    }
    if (route.scope) {
      responses['401'] = { description: 'Missing or invalid credentials', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      responses['403'] = { description: 'Missing scope', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      responses['429'] = { description: 'Rate limited; see Retry-After', headers: { 'Retry-After': { schema: { type: 'integer' } } }, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    if (route.body) {
      responses['413'] = { description: 'Body too large', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      responses['415'] = { description: 'Body is not JSON', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    const body =
      route.body === 'rule'
        ? { $ref: '#/components/schemas/RuleDocument' }
        : route.body === 'contact-policy'
          ? contactPolicySchema
            ? { $ref: '#/components/schemas/ContactPolicyDocument' }
            : { type: 'object' }
          : route.body
            ? hoistDefs(jsonSchemaOf(route.body, 'input'), components, '')
            : undefined;
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      summary: route.summary,
      operationId: `${route.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      ...(route.scope ? { security: [{ bearerAuth: [route.scope] }] } : { security: [] }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } } : {}),
      responses,
    };
  }
  components['Error'] = jsonSchemaOf(
    z.object({ error: z.object({ code: z.string(), message: z.string(), issues: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })).optional() }) }),
    'output',
  );
  return {
    openapi: '3.1.0',
    info: { ...DEFAULT_INFO, ...info },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key (crm_...) or a JWT carrying the account id' } },
    },
  };
}
