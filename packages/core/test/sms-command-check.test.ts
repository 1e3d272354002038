import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCommandParams, InvalidCommandError } from '../src/actions/built-in.js';
import { isPlainValidSmsCommand, MAX_SMS_LENGTH, smsCommandSchema } from '../src/actions/sms.js';

/*
 * Rendered SMS commands are checked without zod when they are plainly valid (sms.ts). Held here to the
 * schema: whatever the quick check accepts, the schema accepts, and checkCommandParams throws for
 * exactly what the schema refuses, with the schema's issues.
 */

const recipient = fc.oneof(
  fc.constantFrom('+15557654321', '+442071838750', '+1555765432', '+0555765432', '15557654321', '+1555765432\n', '+15557654321 ', ' +15557654321', '', '+1'.padEnd(321, '1')),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.constant(undefined),
);
const message = fc.oneof(
  fc.constantFrom('Hi Jane, job #J-1 is done.', '', '   ', '\n\t', 'x'.repeat(MAX_SMS_LENGTH), 'x'.repeat(MAX_SMS_LENGTH + 1), '\u00a0', 'é'.repeat(10)),
  fc.string({ maxLength: 40 }),
  fc.constant(null),
);
const params = fc.oneof(
  fc.record({ recipient: fc.constantFrom('+15557654321', '+442071838750'), message: fc.string({ minLength: 1, maxLength: 40 }) }),
  fc.record({ recipient, message }),
  fc.record({ recipient, message }, { requiredKeys: [] }),
  fc.record({ recipient, message, extra: fc.string() }),
  fc.constantFrom(null, 'text', [], Object.create({ recipient: '+15557654321', message: 'inherited' }) as unknown),
);

function outcome(value: unknown): { ok: true } | { ok: false; message: string; issues: unknown } {
  try {
    checkCommandParams('sms', smsCommandSchema, value);
    return { ok: true };
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCommandError);
    return { ok: false, message: (error as Error).message, issues: (error as InvalidCommandError).issues };
  }
}

describe('the quick check of rendered SMS commands', () => {
  it('accepts only what the schema accepts, and the check throws for what the schema refuses', () => {
    let quick = 0;
    fc.assert(
      fc.property(params, (value) => {
        const parsed = smsCommandSchema.safeParse(value);
        if (isPlainValidSmsCommand(value)) {
          quick += 1;
          expect(parsed.success).toBe(true);
        }
        const checked = outcome(value);
        expect(checked.ok).toBe(parsed.success);
      }),
      { numRuns: 3_000 },
    );
    // The generated commands reach the quick path, not only the schema.
    expect(quick).toBeGreaterThan(200);
  });

  it('leaves the wording of every refusal to the schema', () => {
    const refused = outcome({ recipient: '+1555', message: ' ' });
    expect(refused).toMatchObject({ ok: false, message: expect.stringMatching(/^rendered sms params are not valid: params\.recipient: /) as unknown });
    expect(isPlainValidSmsCommand({ recipient: '+15557654321', message: 'ok' })).toBe(true);
    expect(isPlainValidSmsCommand({ recipient: '+15557654321', message: 'ok', extra: 1 })).toBe(false);
  });
});
