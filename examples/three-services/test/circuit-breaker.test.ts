import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState } from '../src/trigger-service/rule-lookup/circuit-breaker.js';
import { RuleLookupUnavailableError } from '../src/trigger-service/rule-lookup/rule-lookup-error.js';

const fail = () => Promise.reject(new Error('down'));
const ok = () => Promise.resolve('ok');

describe('CircuitBreaker', () => {
  it('opens after the threshold, fails fast while open, lets one trial through after the cooldown', async () => {
    let now = 0;
    const states: CircuitState[] = [];
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 1_000, now: () => now, onStateChange: (s) => states.push(s) });
    await expect(breaker.run(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('closed');
    await expect(breaker.run(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');

    let called = false;
    const refused = breaker.run(async () => {
      called = true;
      return 'x';
    });
    await expect(refused).rejects.toBeInstanceOf(RuleLookupUnavailableError);
    await expect(refused).rejects.toMatchObject({ retryable: true, code: 'CRM_ERR_RULES_UNAVAILABLE' });
    expect(called).toBe(false);

    now = 1_000;
    let release: (v: string) => void = () => {};
    const trial = breaker.run(() => new Promise<string>((resolve) => (release = resolve)));
    expect(breaker.state).toBe('half-open');
    await expect(breaker.run(ok)).rejects.toThrow('trial call is in flight');
    release('ok');
    await expect(trial).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('re-opens when the trial call fails', async () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 500, now: () => now });
    await expect(breaker.run(fail)).rejects.toThrow();
    now = 600;
    await expect(breaker.run(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    now = 800;
    await expect(breaker.run(ok)).rejects.toBeInstanceOf(RuleLookupUnavailableError);
    now = 1_100;
    await expect(breaker.run(ok)).resolves.toBe('ok');
  });

  it('counts consecutive failures only', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 1_000 });
    await expect(breaker.run(fail)).rejects.toThrow();
    await breaker.run(ok);
    await expect(breaker.run(fail)).rejects.toThrow();
    expect(breaker.state).toBe('closed');
  });
});
