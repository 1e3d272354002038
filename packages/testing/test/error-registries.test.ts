// Every package's error registry against docs/errors.md, in one place: each registry is made the one
// way (core's `defineErrorCodes`), each code is documented once, in its package's section, with one
// meaning, and every package's errors share core's shape (`CodedError`).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AutomationError, ERROR_CODES, isAutomationError } from '@crm-automation/core';
import { BUS_ERROR_CODES, CodedError, defineErrorCodes, isCodedError } from '@crm-automation/core/spi';
import { HTTP_ERROR_CODES, HttpError } from '@crm-automation/http';
import { isRabbitBusError, RABBIT_BUS_ERROR_CODES, RabbitBusError } from '@crm-automation/adapter-rabbitmq';
import { isKafkaBusError, KAFKA_BUS_ERROR_CODES, KafkaBusError } from '@crm-automation/adapter-kafka';
import { CLI_ERROR_CODES, CliError } from '@crm-automation/cli';
import {
  ConfigError,
  LookupMessageError,
  RuleLookupUnavailableError,
  RuleWireError,
  THREE_SERVICES_ERROR_CODES,
} from '../../../examples/three-services/src/service-errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

const CORE = '`@crm-automation/core`';
const BUSES = 'Event buses: `@crm-automation/core/spi`, `@crm-automation/adapter-rabbitmq`, `@crm-automation/adapter-kafka`';
const HTTP = '`@crm-automation/http`';
const CLI = '`@crm-automation/cli`';
const THREE_SERVICES = 'Three-services example (`examples/three-services`)';

/** Every registry of the repository, with the heading of the docs/errors.md section that lists its codes. */
const REGISTRIES: ReadonlyArray<{ name: string; section: string; codes: Readonly<Record<string, string>> }> = [
  { name: 'ERROR_CODES (@crm-automation/core)', section: CORE, codes: ERROR_CODES },
  { name: 'BUS_ERROR_CODES (@crm-automation/core/spi)', section: BUSES, codes: BUS_ERROR_CODES },
  { name: 'RABBIT_BUS_ERROR_CODES (@crm-automation/adapter-rabbitmq)', section: BUSES, codes: RABBIT_BUS_ERROR_CODES },
  { name: 'KAFKA_BUS_ERROR_CODES (@crm-automation/adapter-kafka)', section: BUSES, codes: KAFKA_BUS_ERROR_CODES },
  { name: 'HTTP_ERROR_CODES (@crm-automation/http)', section: HTTP, codes: HTTP_ERROR_CODES },
  { name: 'CLI_ERROR_CODES (@crm-automation/cli)', section: CLI, codes: CLI_ERROR_CODES },
  { name: 'THREE_SERVICES_ERROR_CODES (examples/three-services)', section: THREE_SERVICES, codes: THREE_SERVICES_ERROR_CODES },
];

interface DocumentedCode {
  code: string;
  section: string;
  /** The table cells after the code. */
  cells: string[];
}

/** Every table row of docs/errors.md that starts with a `CRM_ERR_...` code, with the `## ` section it is in. */
function documentedCodes(markdown: string): DocumentedCode[] {
  const rows: DocumentedCode[] = [];
  let section = '';
  for (const line of markdown.split('\n')) {
    const heading = /^## (.+)$/.exec(line);
    if (heading?.[1] !== undefined) section = heading[1].trim();
    const row = /^\|\s*`(CRM_ERR_[A-Z0-9_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (row?.[1] !== undefined && row[2] !== undefined) rows.push({ code: row[1], section, cells: row[2].split('|').map((cell) => cell.trim()) });
  }
  return rows;
}

const documented = documentedCodes(doc);
const sections = [...new Set(REGISTRIES.map((r) => r.section))];

describe('error registries and docs/errors.md', () => {
  it('has a section for every package that defines codes', () => {
    const headings = [...doc.matchAll(/^## (.+)$/gm)].map((m) => m[1]?.trim());
    for (const section of sections) expect(headings, `docs/errors.md has no section "## ${section}"`).toContain(section);
  });

  it.each(sections)('section %s documents exactly the codes of its registries', (section) => {
    const defined = new Set(REGISTRIES.filter((r) => r.section === section).flatMap((r) => Object.keys(r.codes)));
    const listed = documented.filter((d) => d.section === section).map((d) => d.code);
    expect(listed.length, `no codes documented under "## ${section}"`).toBeGreaterThan(0);
    expect([...new Set(listed)].sort()).toEqual([...defined].sort());
  });

  it('documents every code once, and only codes some registry defines', () => {
    const defined = new Set(REGISTRIES.flatMap((r) => Object.keys(r.codes)));
    const counts = new Map<string, number>();
    for (const { code } of documented) counts.set(code, (counts.get(code) ?? 0) + 1);
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    expect([...counts.keys()].filter((code) => !defined.has(code))).toEqual([]);
    expect([...defined].filter((code) => !counts.has(code))).toEqual([]);
  });

  it('gives a code one meaning: a code in two registries means the same in both, and belongs to one section', () => {
    const meanings = new Map<string, Set<string>>();
    const owners = new Map<string, Set<string>>();
    for (const registry of REGISTRIES) {
      for (const [code, meaning] of Object.entries(registry.codes)) {
        meanings.set(code, (meanings.get(code) ?? new Set()).add(meaning));
        owners.set(code, (owners.get(code) ?? new Set()).add(registry.section));
      }
    }
    expect([...meanings].filter(([, m]) => m.size > 1).map(([code, m]) => [code, [...m]])).toEqual([]);
    expect([...owners].filter(([, s]) => s.size > 1).map(([code, s]) => [code, [...s]])).toEqual([]);
  });

  it.each(REGISTRIES)('$name is made with defineErrorCodes: CRM_ERR_ names, a meaning each, frozen', ({ codes }) => {
    expect(Object.keys(codes).length).toBeGreaterThan(0);
    for (const [code, meaning] of Object.entries(codes)) {
      expect(code).toMatch(/^CRM_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*$/);
      expect(meaning.trim()).not.toBe('');
    }
    expect(Object.isFrozen(codes)).toBe(true);
  });

  it('documents every HTTP code with its status', () => {
    const rows = documented.filter((d) => d.section === HTTP);
    expect(rows.filter((d) => !/^\d{3}$/.test(d.cells[0] ?? '')).map((d) => d.code)).toEqual([]);
    expect(rows.map((d) => d.code).sort()).toEqual(Object.keys(HTTP_ERROR_CODES).sort());
  });

  it('says for every core, bus and example code whether it is retryable', () => {
    const withRetryable = documented.filter((d) => d.section === CORE || d.section === BUSES || d.section === THREE_SERVICES);
    expect(withRetryable.filter((d) => !['yes', 'no', 'either'].includes(d.cells[1] ?? '')).map((d) => d.code)).toEqual([]);
  });
});

describe('one error shape for every package', () => {
  const samples: ReadonlyArray<{ error: CodedError; codes: Readonly<Record<string, string>>; retryable: boolean }> = [
    { error: new AutomationError('CRM_ERR_CONFIG', 'bad option'), codes: ERROR_CODES, retryable: false },
    { error: new RabbitBusError('CRM_ERR_BUS_PUBLISH', 'no confirm'), codes: RABBIT_BUS_ERROR_CODES, retryable: true },
    { error: new KafkaBusError('CRM_ERR_BUS_CLOSED', 'closed'), codes: KAFKA_BUS_ERROR_CODES, retryable: false },
    { error: new HttpError(503, 'CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE', 'later'), codes: HTTP_ERROR_CODES, retryable: true },
    { error: new HttpError(404, 'CRM_ERR_HTTP_NOT_FOUND', 'no route'), codes: HTTP_ERROR_CODES, retryable: false },
    { error: new CliError('CRM_ERR_CLI_USAGE', 'missing --account'), codes: CLI_ERROR_CODES, retryable: false },
    { error: new ConfigError('rules-service', [{ variable: 'PORT', message: 'not a port' }]), codes: ERROR_CODES, retryable: false },
    { error: new RuleWireError('malformed rule'), codes: THREE_SERVICES_ERROR_CODES, retryable: false },
    { error: new LookupMessageError('malformed rules_found'), codes: THREE_SERVICES_ERROR_CODES, retryable: false },
    { error: new RuleLookupUnavailableError('rules service down', { cause: new Error('ECONNREFUSED') }), codes: THREE_SERVICES_ERROR_CODES, retryable: true },
  ];

  it.each(samples)('$error.name $error.code: a branded CodedError with a registered code, JSON without stack or cause', ({ error, codes, retryable }) => {
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(CodedError);
    expect(isCodedError(error)).toBe(true);
    expect(Object.keys(codes)).toContain(error.code);
    expect(error.retryable).toBe(retryable);
    const json = JSON.parse(JSON.stringify(error)) as Record<string, unknown>;
    expect(json).toMatchObject({ name: error.name, code: error.code, message: error.message, retryable });
    expect(json).not.toHaveProperty('stack');
    expect(json).not.toHaveProperty('cause');
    expect(JSON.stringify(error)).not.toContain('ECONNREFUSED');
  });

  it('keeps each family recognisable by its own brand, across copies of a package', () => {
    const rabbit = new RabbitBusError('CRM_ERR_BUS_CLOSED', 'closed');
    const kafka = new KafkaBusError('CRM_ERR_BUS_CLOSED', 'closed');
    expect([isRabbitBusError(rabbit), isKafkaBusError(rabbit), isAutomationError(rabbit)]).toEqual([true, false, false]);
    expect([isRabbitBusError(kafka), isKafkaBusError(kafka), isAutomationError(kafka)]).toEqual([false, true, false]);
    // A copy from another instance of the package: same Symbol.for brands, another class.
    const foreign = Object.assign(Object.create(null) as object, { [Symbol.for('crm-automation.coded-error')]: true, [Symbol.for('crm-automation.rabbitmq-bus-error')]: true });
    expect([isCodedError(foreign), isRabbitBusError(foreign)]).toEqual([true, true]);
    expect(isCodedError(new Error('plain'))).toBe(false);
    expect(isCodedError({ code: 'CRM_ERR_CONFIG', message: 'look-alike' })).toBe(false);
  });

  it('refuses a malformed registry at load time, and narrows codes with isCode', () => {
    expect(() => defineErrorCodes({ CRM_ERR_EMPTY: ' ' })).toThrow(/needs a meaning/);
    expect(() => defineErrorCodes({ CRM_ERR_lower: 'x' })).toThrow(/CRM_ERR_WORDS/);
    // @ts-expect-error a code must start with CRM_ERR_
    expect(() => defineErrorCodes({ ERR_OTHER: 'x' })).toThrow(/CRM_ERR_WORDS/);
    const registry = defineErrorCodes({ CRM_ERR_ONE: 'one', CRM_ERR_TWO: 'two' });
    expect([registry.isCode('CRM_ERR_ONE'), registry.isCode('CRM_ERR_THREE'), registry.isCode('toString'), registry.isCode(1)]).toEqual([true, false, false, false]);
    expect(registry.pick('CRM_ERR_TWO').codes).toEqual({ CRM_ERR_TWO: 'two' });
    // @ts-expect-error not a code of this registry
    expect(() => registry.pick('CRM_ERR_THREE')).toThrow(/not in this registry/);
  });
});
