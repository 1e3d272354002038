import { describe, expect, it } from 'vitest';
import { typosOf } from '@crm-automation/testing';
import { Connections, createCliProgram, createConsoleOutput, createRecordingOutput } from '../src/index.js';

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
