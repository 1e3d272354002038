import { AutomationError } from '../errors.js';
import type { Clock } from '../ports/clock.js';

export interface ManualClock extends Clock {
  /**
   * Moves time forward, firing due timers in time order (each sees `now()` at its own due time).
   * The returned promise resolves once the work those timers started has had a chance to run.
   */
  advance(ms: number): Promise<void>;
  /** Moves time to `to` (never backwards). */
  set(to: Date | number | string): Promise<void>;
  /** Timers waiting to fire. */
  readonly pendingTimers: number;
}

interface Timer {
  at: number;
  seq: number;
  callback: () => void;
}

const flush = async (rounds = 20) => {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** A clock that only moves when told to: for tests and demos of delayed rules without waiting. */
export function createManualClock(start: Date | number | string = 0): ManualClock {
  let now = new Date(start).getTime();
  if (Number.isNaN(now)) throw new AutomationError('CRM_ERR_CONFIG', `createManualClock: invalid start time: ${String(start)} (a Date, epoch milliseconds or an ISO 8601 string)`);
  let seq = 0;
  const timers: Timer[] = [];

  const fireUntil = async (target: number) => {
    for (;;) {
      timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = timers[0];
      if (!next || next.at > target) break;
      timers.shift();
      now = Math.max(now, next.at);
      next.callback();
      await flush();
    }
    now = Math.max(now, target);
    await flush();
  };

  return {
    now: () => new Date(now),
    setTimer(ms, callback) {
      const timer: Timer = { at: now + Math.max(0, ms), seq: seq++, callback };
      timers.push(timer);
      return () => {
        const i = timers.indexOf(timer);
        if (i >= 0) timers.splice(i, 1);
      };
    },
    advance: (ms) => fireUntil(now + ms),
    set: (to) => fireUntil(new Date(to).getTime()),
    get pendingTimers() {
      return timers.length;
    },
  };
}
