import { describe, expect, it } from 'vitest';
import { createConsoleOutput, createRecordingOutput } from '@crm-automation/cli';

// A wrong kind of value for a known option is a CRM_ERR_CONFIG naming it, not a TypeError at the first line.
describe('the CLI output factories refuse wrong kinds of values', () => {
  it.each([
    ['createConsoleOutput', (o: unknown) => createConsoleOutput(o as never), [['json', 'yes'], ['json', 1], ['stdout', 'stdout'], ['stdout', {}], ['stderr', 2]]],
    ['createRecordingOutput', (o: unknown) => createRecordingOutput(o as never), [['json', 'true'], ['json', {}]]],
  ] as const)('%s', (_name, make, cases) => {
    for (const [key, value] of cases) {
      let error: unknown;
      try {
        make({ [key]: value });
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(key) as string });
    }
    expect(() => make({ json: true })).not.toThrow();
  });
});
