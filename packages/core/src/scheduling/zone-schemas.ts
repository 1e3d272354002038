import { z } from 'zod';
import { issue } from '../actions/fields.js';
import { didYouMean } from '../config/check-options.js';
import { checkSingleValuePath } from '../rules/json-path.js';
import { isTimeZone, MAX_ZONE_NAME_LENGTH, timeZoneNames } from './time-zones.js';

// The schemas of local times and time zones, shared by rule schedules and contact policies so that a
// zone or a clock time is refused the same way, with the same codes, wherever a tenant writes one.

/** A local time of day, `HH:mm` (24-hour). */
export const clockSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time of day as HH:mm (24-hour), e.g. "09:00"');

/** An IANA zone name the runtime's tz database knows (`unknown_time_zone`, with the nearest name). */
export const zoneNameSchema = z
  .string()
  .min(1)
  .max(MAX_ZONE_NAME_LENGTH)
  .superRefine((name, ctx) => {
    if (!isTimeZone(name)) ctx.addIssue(issue('unknown_time_zone', `"${name}" is not an IANA time zone${didYouMean(name, timeZoneNames())}`));
  });

/** An IANA zone name, or a JSONPath (`$.client.timeZone`) to one in the event's payload. */
export const zoneSpecSchema = z
  .string()
  .min(1)
  .max(500)
  .superRefine((spec, ctx) => {
    if (spec.startsWith('$')) {
      const problem = checkSingleValuePath(spec);
      if (problem) ctx.addIssue(issue(problem.code, problem.message));
    } else if (!isTimeZone(spec)) {
      ctx.addIssue(issue('unknown_time_zone', `"${spec}" is not an IANA time zone (or a JSONPath to one, starting with $)${didYouMean(spec, timeZoneNames())}`));
    }
  });

/** `fallbackTimeZone` is for a payload without a zone at a `timeZone` path: refused next to a literal. */
export const fallbackNeedsPath = (value: { timeZone?: string | undefined; fallbackTimeZone?: string | undefined }) =>
  value.fallbackTimeZone === undefined || (value.timeZone?.startsWith('$') ?? false);

export const fallbackRefinement = {
  message: 'fallbackTimeZone is used when the payload has no zone at timeZone, so timeZone must be a JSONPath',
  params: { code: 'fallback_needs_path' },
  path: ['fallbackTimeZone'],
};
