import fc from 'fast-check';

/**
 * Run counts and seed of the fuzz tests, from the environment, so that a longer hunt runs the same tests:
 * `FUZZ_RUNS_FACTOR=10 FUZZ_SEED=42 npx vitest run --project unit packages/core/test/hardening/fuzz.test.ts`.
 * A failure prints its seed and path; passing that seed back replays it.
 */
export function fuzzParameters(numRuns: number): { numRuns: number; seed?: number } {
  const seed = process.env['FUZZ_SEED'];
  return { numRuns: Math.max(1, Math.round(numRuns * FUZZ_RUNS_FACTOR)), ...(seed !== undefined && seed !== '' ? { seed: Number(seed) } : {}) };
}

const requestedFactor = Number(process.env['FUZZ_RUNS_FACTOR'] ?? '1');
/** How many times the usual runs a fuzz test makes (its timeout grows with it). */
export const FUZZ_RUNS_FACTOR = Number.isFinite(requestedFactor) && requestedFactor > 0 ? requestedFactor : 1;

/**
 * Generators of hostile and careless tenant input for the fuzz tests (core's engine API and the HTTP
 * routes): rule documents (mostly malformed, some valid but costly), events and their payloads.
 */
/** Strings that probe the template, path and URL parsers, mixed with arbitrary text. */
export const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '{{', '}}', '{{#each job.items}}', '{{/each}}', '{{#if}}', '{{log "x"}}', '{{> p}}', '{{lookup a}}', '{{__proto__}}',
    '{{constructor.constructor "return 1"}}', '$..*..*', '$.a[?(@.x)]', '$[0,0,0]', '$.__proto__.polluted', 'http:/{{h}}/x',
    'https://127.0.{{!}}0.1/', 'http://[::1]/', '\u0000', '\r\n', '%E0%A4%A', '{{#each @root}}{{#each @root}}x{{/each}}{{/each}}',
  ),
  fc.array(fc.constantFrom('{{#each a}}', '{{/each}}', '{{#if b}}', '{{/if}}', '{{x}}', 'txt', '{{else}}'), { maxLength: 30 }).map((parts) => parts.join('')),
);

const leaf = fc.record(
  {
    fact: fc.oneof(fc.constantFrom('job', 'client', '__proto__', 'constructor'), hostileString),
    operator: fc.oneof(fc.constantFrom('equal', 'notEqual', 'in', 'contains', 'greaterThan', 'everyFact:equal', 'swap:in', 'equals', 'not:not:equal'), hostileString),
    value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostileString),
    path: fc.oneof(fc.constantFrom('$.status', '$.items[*].price', '$..id', '$..*..*', '$.a[-1]', '$.__proto__'), hostileString),
  },
  { requiredKeys: ['fact', 'operator'] },
);

const conditions: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('group'), fc.anything({ maxDepth: 2 })),
  group: fc.oneof(
    fc.record({ all: fc.array(tie('node'), { maxLength: 4 }) }),
    fc.record({ any: fc.array(tie('node'), { maxLength: 4 }) }),
    fc.record({ not: tie('node') }),
  ),
})).group;

const action = fc.oneof(
  fc.record({ type: fc.constant('sms'), params: fc.record({ recipient: fc.oneof(fc.constant('+15557654321'), fc.constant({ source: 'fact', fact: 'job', path: '$.phone' }), hostileString), message: hostileString }, { requiredKeys: [] }) }),
  fc.record({ type: fc.constant('email'), params: fc.record({ recipient: fc.oneof(fc.constant('a@example.com'), hostileString), subject: hostileString, body: hostileString, templateId: hostileString }, { requiredKeys: [] }) }),
  fc.record({
    type: fc.constant('webhook'),
    params: fc.record({ url: fc.oneof(fc.constant('https://example.com/x/{{job.id}}'), hostileString), method: fc.oneof(fc.constant('POST'), hostileString), headers: fc.dictionary(hostileString, hostileString, { maxKeys: 3 }), payload: fc.jsonValue({ maxDepth: 4 }) }, { requiredKeys: [] }),
  }),
  fc.record({ type: hostileString, params: fc.anything({ maxDepth: 2 }) }),
);

export const ruleDocument = fc.record(
  {
    name: fc.oneof(fc.constant('fuzzed'), hostileString),
    trigger: fc.oneof(fc.constant({ eventName: 'job.created' }), fc.record({ eventName: hostileString })),
    delay: fc.oneof(fc.constant({ value: 0, unit: 'minutes' }), fc.record({ value: fc.oneof(fc.double(), fc.integer()), unit: fc.oneof(fc.constantFrom('seconds', 'days', 'weeks'), hostileString) })),
    conditions,
    actions: fc.array(action, { maxLength: 3 }),
    enabled: fc.oneof(fc.boolean(), fc.anything({ maxDepth: 1 })),
    extra: fc.anything({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);

/** Rules that pass validation, with content that is costly or odd at run time. */
const validTemplate = fc.constantFrom(
  'Job {{job.number}} is done',
  '{{#each job.items}}{{#each @root.job.items}}{{#each @root.job.items}}{{#each @root.job.items}}{{this}}{{/each}}{{/each}}{{/each}}{{/each}}',
  '{{#each job.items}}{{@root.job.big}}{{/each}}',
  '{{#if job.vip}}VIP {{/if}}{{lookup job "number"}}',
  '{{job.__proto__}}{{job.constructor}}',
  '{{#with job.client}}{{name}}{{/with}}',
);
const validPath = fc.constantFrom('$.status', '$.items[*]', '$..id', '$..*', '$.items[0:3]', "$['number']", '$.__proto__', '$.a.b.c');
export const validRule = fc.record({
  name: fc.constant('valid'),
  trigger: fc.constant({ eventName: 'job.created' }),
  delay: fc.record({ value: fc.nat({ max: 10 }), unit: fc.constant('seconds') }),
  conditions: fc.record({
    any: fc.array(
      fc.record({ fact: fc.constant('job'), operator: fc.constantFrom('equal', 'notEqual', 'in', 'contains', 'greaterThan', 'everyFact:notEqual', 'someValue:equal'), value: fc.jsonValue({ maxDepth: 2 }), path: validPath }),
      { minLength: 1, maxLength: 4 },
    ),
  }),
  actions: fc.array(
    fc.oneof(
      fc.record({ type: fc.constant('sms'), params: fc.record({ recipient: fc.constantFrom('+15557654321', { source: 'fact', fact: 'job', path: '$.phone' }, { source: 'fact', fact: 'job', path: '$..*' }), message: validTemplate }) }),
      fc.record({ type: fc.constant('webhook'), params: fc.record({ url: fc.constantFrom('https://example.com/x/{{job.id}}', 'https://example.com/{{job.number}}/y?q={{job.status}}'), payload: fc.record({ a: validTemplate, n: fc.integer() }) }) }),
    ),
    { minLength: 1, maxLength: 2 },
  ),
});

export const jobPayload = fc.record(
  {
    number: fc.oneof(fc.string(), fc.integer()),
    status: fc.constantFrom('Done', 'Open', '..', '.', '%2e'),
    id: fc.oneof(fc.string(), fc.constantFrom('..', '.', '/../admin')),
    phone: fc.oneof(fc.constant('+15557654321'), fc.string()),
    items: fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 3 })), { maxLength: 60 }),
    big: fc.string({ maxLength: 10 }).map((s) => s.repeat(1_000)),
    vip: fc.boolean(),
    client: fc.record({ name: fc.string() }),
  },
  { requiredKeys: [] },
);

export const event = fc.record(
  {
    name: fc.oneof(fc.constant('job.created'), hostileString),
    accountId: fc.oneof(fc.nat({ max: 49 }).map((n) => `acc_${n}`), fc.nat({ max: 49 }).map((n) => `acc_${n}`), hostileString),
    payload: fc.oneof(fc.record({ job: jobPayload }), fc.record({ job: jobPayload }), fc.record({ job: fc.jsonValue({ maxDepth: 5 }) }), fc.anything({ maxDepth: 3 })),
    timestamp: fc.oneof(fc.constant(undefined), fc.constant(undefined), fc.integer(), fc.double(), fc.date({ noInvalidDate: false }), hostileString),
    id: fc.oneof(fc.constant(undefined), hostileString),
  },
  { requiredKeys: ['name', 'accountId', 'payload'] },
);


/** Kinds of in-process values that are not JSON, as a JavaScript caller may pass them by mistake or on purpose. */
export const NON_JSON_KINDS = ['function', 'bigint', 'symbol', 'map', 'set', 'cycle', 'throwing getter', 'throwing ownKeys', 'revoked proxy', 'invalid date', 'regexp', 'typed array', 'throwing toJSON', 'class instance', 'promise', 'error', 'boxed string', 'NaN', 'Infinity'] as const;
export type NonJsonKind = (typeof NON_JSON_KINDS)[number];

/**
 * A fresh value of that kind. Made inside the property, never by an arbitrary: fast-check inspects
 * generated values (a revoked Proxy throws on `in`), and a cycle or a throwing getter cannot be shared
 * between runs.
 */
export function makeNonJson(kind: NonJsonKind): unknown {
  switch (kind) {
    case 'function':
      return () => 1;
    case 'bigint':
      return 10n;
    case 'symbol':
      return Symbol('s');
    case 'map':
      return new Map([[1, 2]]);
    case 'set':
      return new Set([1]);
    case 'cycle': {
      const cycle: Record<string, unknown> = { a: 1 };
      cycle['self'] = cycle;
      return cycle;
    }
    case 'throwing getter':
      return Object.defineProperty({}, 'x', { enumerable: true, get: () => { throw new Error('getter'); } });
    case 'throwing ownKeys':
      return new Proxy({}, { ownKeys: () => { throw new Error('ownKeys'); } });
    case 'revoked proxy': {
      const revocable = Proxy.revocable({}, {});
      revocable.revoke();
      return revocable.proxy;
    }
    case 'invalid date':
      return new Date(Number.NaN);
    case 'regexp':
      return /x/g;
    case 'typed array':
      return new Uint8Array(3);
    case 'throwing toJSON':
      return { toJSON: () => { throw new Error('toJSON'); } };
    case 'class instance':
      return new (class Job { id = 1; })();
    case 'promise':
      return Promise.resolve(1);
    case 'error':
      return new Error('e');
    case 'boxed string':
      // A String object is not a string: JSON has no boxed values.
      return new String('x');
    case 'NaN':
      return Number.NaN;
    case 'Infinity':
      return Number.POSITIVE_INFINITY;
  }
}

/** A copy of the plain-JSON skeleton of `value` (generated values are shared with shrinking: never mutated). */
function plainCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainCopy);
  if (typeof value === 'object' && value !== null) {
    const prototype: unknown = Object.getPrototypeOf(value);
    // fast-check also makes objects without a prototype: copied too, as objects of the same kind.
    if (prototype === Object.prototype || prototype === null) {
      const copy: Record<string, unknown> = prototype === null ? Object.create(null) : {};
      for (const [k, v] of Object.entries(value)) copy[k] = plainCopy(v);
      return copy;
    }
  }
  return value;
}

/** A document with one non-JSON value at a generated place (the root itself, or inside any object or array), built on demand. */
export interface NonJsonDocument {
  kind: NonJsonKind;
  steps: number[];
  build(): unknown;
}

export function withNonJson<T>(base: fc.Arbitrary<T>): fc.Arbitrary<NonJsonDocument> {
  return fc.tuple(base, fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom(...NON_JSON_KINDS)).map(([doc, steps, kind]) => ({
    kind,
    steps,
    build: () => {
      const bad = makeNonJson(kind);
      if (steps.length === 0) return bad;
      const copy = plainCopy(doc);
      let at: unknown = copy;
      for (const [i, step] of steps.entries()) {
        if (typeof at !== 'object' || at === null) break;
        const keys = Object.keys(at);
        // An empty array gets the value as its element 0, where JSON could hold a value too.
        const key = keys.length === 0 ? (Array.isArray(at) ? '0' : 'injected') : (keys[step % keys.length] ?? 'injected');
        const holder = at as Record<string, unknown>;
        const next = holder[key];
        if (i === steps.length - 1 || keys.length === 0 || typeof next !== 'object' || next === null) {
          holder[key] = bad;
          break;
        }
        at = next;
      }
      return copy;
    },
  }));
}
