import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@crm-automation/core';
import { consumeDelivery, jsonTextNestsDeeperThan, MAX_BUS_MESSAGE_CHARS, readDeadLetter } from '@crm-automation/core/spi';

/**
 * A broker hands the consumer any bytes a publisher wrote. Oversized and deeply nested text is
 * dead-lettered before it is parsed, without calling the handler, and a dead letter of such text
 * reads back as text that can be written out again (issue 12: bounded cost of tenant input).
 */

const policy = { group: 'g', maxAttempts: 3, retryDelaysMs: [10], logger: silentLogger };

async function consume(text: string) {
  const handled: unknown[] = [];
  const deadLetters: string[] = [];
  const outcome = await consumeDelivery(
    { text, headers: { 'x-crm-account-id': 'acc_1' } },
    async (body) => {
      handled.push(body);
    },
    { retry: async () => undefined, deadLetter: async (letter) => void deadLetters.push(letter.reason) },
    policy,
  );
  return { outcome, handled, deadLetters };
}

const nested = (depth: number, open = '[', close = ']') => `${open.repeat(depth)}${close.repeat(depth)}`;

describe('bus consumer limits before parsing', () => {
  it.each([
    ['arrays 65 deep', `{"name":"e","payload":{"a":${nested(65)}}}`],
    ['objects 100 deep', `{"name":"e","payload":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`],
    ['mixed 20,000 deep', `{"name":"e","payload":{"a":${'[{"b":'.repeat(10_000)}1${'}]'.repeat(10_000)}}}`],
    ['longer than the limit', `{"name":"e","payload":{"a":"${'x'.repeat(MAX_BUS_MESSAGE_CHARS)}"}}`],
  ])('dead-letters %s without calling the handler', async (_, text) => {
    const { outcome, handled, deadLetters } = await consume(text);
    expect(outcome).toBe('dead-lettered');
    expect(handled).toEqual([]);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatch(/deeper than 64|longer than/);
  });

  it('hands nesting at the limit, brackets inside strings and escaped quotes to the handler', async () => {
    for (const text of [
      `{"name":"e","payload":${'{"a":'.repeat(63)}1${'}'.repeat(63)}}`,
      `{"name":"e","payload":{"s":"${'['.repeat(500)}","t":"\\"${'{'.repeat(500)}"}}`,
    ]) {
      const { outcome, handled } = await consume(text);
      expect(outcome).toBe('handled');
      expect(handled).toEqual([JSON.parse(text)]);
    }
  });

  it('agrees with the parsed depth for generated JSON', () => {
    const depthOf = (value: unknown): number =>
      Array.isArray(value) ? 1 + Math.max(0, ...value.map(depthOf)) : value !== null && typeof value === 'object' ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 0, max: 12 }), (value, limit) => {
        const text = JSON.stringify(value);
        expect(jsonTextNestsDeeperThan(text, limit)).toBe(depthOf(value) > limit);
      }),
      { numRuns: 500 },
    );
  });

  it('reads a dead letter nested too deep as its text, which can be written out again', () => {
    const text = `{"a":${nested(20_000)}}`;
    const letter = readDeadLetter(text, undefined, { id: '1', deadAt: new Date(0) });
    expect(letter.message).toBe(text);
    expect(() => JSON.stringify(letter)).not.toThrow();
    expect(readDeadLetter('{"a":[1]}', undefined, { id: '2', deadAt: new Date(0) }).message).toEqual({ a: [1] });
  });
});
