/** The units of a rule's `delay` and of `concurrency.maxWait`, as the engine takes them. */
export type DelayUnit = 'seconds' | 'minutes' | 'hours' | 'days';
export const DELAY_UNITS: readonly DelayUnit[] = ['seconds', 'minutes', 'hours', 'days'];

export const isDelayUnit = (value: unknown): value is DelayUnit => typeof value === 'string' && (DELAY_UNITS as readonly string[]).includes(value);
