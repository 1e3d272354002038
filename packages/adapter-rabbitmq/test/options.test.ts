import { describe, expect, it } from 'vitest';
import { createRabbitBus } from '../src/index.js';
import { resolveRabbitOptions } from '../src/options.js';

/** Misspellings a person makes: a plural, a dropped letter, two letters swapped. */
function typosOf(key: string): string[] {
  const typos = new Set([key.endsWith('s') ? key.slice(0, -1) : `${key}s`, key.slice(0, -1)]);
  if (key.length >= 5) typos.add(key.slice(0, 2) + (key[3] ?? '') + (key[2] ?? '') + key.slice(4));
  typos.delete(key);
  return [...typos].filter((t) => t.length >= 2);
}

// Every key of the options type, written out here so a key dropped from the factory's list fails.
const KEYS = ['url', 'connection', 'exchange', 'queuePrefix', 'queueType', 'bindingKeys', 'groups', 'prefetch', 'maxAttempts', 'retryDelaysMs', 'publishTimeoutMs', 'mandatory', 'reconnectDelayMs', 'reconnectMaxDelayMs', 'logger'];
const BASE: Record<string, unknown> = { url: 'amqp://guest:guest@127.0.0.1:1' };

describe('createRabbitBus refuses unknown option keys (no broker needed: refused before connecting)', () => {
  it.each(KEYS.flatMap((key) => typosOf(key).map((typo) => [typo, key])))('"%s" is refused, suggesting "%s"', (typo, key) => {
    let thrown: unknown;
    try {
      createRabbitBus({ ...BASE, [typo]: 1 } as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect((thrown as Error).message).toContain('createRabbitBus: unknown option');
    expect((thrown as Error).message).toContain(`"${typo}" (did you mean "${key}"?)`);
  });

  it('accepts every documented key', () => {
    const resolved = resolveRabbitOptions({ ...BASE, logger: undefined, maxAttempts: 3 } as never);
    expect(resolved.maxAttempts).toBe(3);
    expect(KEYS).toHaveLength(new Set(KEYS).size);
  });

  it.each([['no options', undefined], ['a string', 'amqp://x'], ['an array', [BASE]]])('refuses %s', (_name, options) => {
    expect(() => createRabbitBus(options as never)).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });
});
