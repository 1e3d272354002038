import { CliError } from './cli-error.js';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** Parses `30d`, `12h`, `90m`, `45s`, `2w` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  const unit = match?.[2] as keyof typeof UNIT_MS | undefined;
  const value = Number(match?.[1]);
  if (!unit || !Number.isSafeInteger(value) || value <= 0) {
    throw new CliError('CRM_ERR_CLI_USAGE', `${JSON.stringify(text)} is not a duration: use a positive number with s, m, h, d or w (e.g. 30d)`);
  }
  return value * UNIT_MS[unit];
}

/** Parses an ISO 8601 date or date-time (`2026-11-01`, `2026-11-01T12:00:00Z`). */
export function parseDate(text: string, flag: string): Date {
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime())) {
    throw new CliError('CRM_ERR_CLI_USAGE', `${flag} ${JSON.stringify(text)} is not an ISO date (e.g. 2026-11-01 or 2026-11-01T12:00:00Z)`);
  }
  return date;
}
