import { describe, expect, it } from 'vitest';
import { Connections, createCliProgram, createConsoleOutput, createRecordingOutput } from '../src/index.js';

/** Misspellings a person makes: a plural, a dropped letter, two letters swapped. */
function typosOf(key: string): string[] {
  const typos = new Set([key.endsWith('s') ? key.slice(0, -1) : `${key}s`, key.slice(0, -1)]);
  if (key.length >= 5) typos.add(key.slice(0, 2) + (key[3] ?? '') + (key[2] ?? '') + key.slice(4));
  typos.delete(key);
  return [...typos].filter((t) => t.length >= 2);
}

// The programmatic API of the CLI: each factory and every key it takes, written out here.
const FACTORIES: Array<[name: string, make: (o: Record<string, unknown>) => unknown, keys: string[]]> = [
  ['Connections', (o) => new Connections(o as never), ['store', 'mongodbUri', 'db', 'postgresUrl', 'schema', 'rabbitmqUrl', 'kafkaBrokers', 'exchange', 'queuePrefix', 'topic', 'actionTypes', 'allowPrivateWebhooks']],
  ['createConsoleOutput', (o) => createConsoleOutput(o as never), ['json', 'stdout', 'stderr']],
  ['createRecordingOutput', (o) => createRecordingOutput(o as never), ['json']],
  ['createCliProgram', (o) => createCliProgram(o as never), ['stdout', 'stderr', 'connect']],
];

describe.each(FACTORIES)('%s refuses unknown option keys', (name, make, keys) => {
  it.each(keys.flatMap((key) => typosOf(key).map((typo) => [typo, key])))('"%s" is refused, suggesting "%s"', (typo, key) => {
    expect(() => make({ [typo]: undefined })).toThrow(
      expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(`${name}: unknown option "${typo}" (did you mean "${key}"?)`) }),
    );
  });

  it('accepts every key it documents', () => {
    expect(make(Object.fromEntries(keys.map((k) => [k, undefined])))).toBeDefined();
  });
});
