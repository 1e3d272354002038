import { IANAZone } from 'luxon';

/** Longest zone name looked up; IANA names are far shorter, and a tenant's payload must not cost more. */
export const MAX_ZONE_NAME_LENGTH = 64;

const HOUR_MS = 3_600_000;
/** Zones remembered (valid or not); the set is cleared when full, so a flood of names costs memory once. */
const MAX_ZONES = 1_000;
/** Hours of offsets remembered per zone before its memo is cleared. */
const MAX_HOURS_PER_ZONE = 8_192;

/**
 * An IANA time zone, with the offsets the tz database (through Luxon and `Intl`) gives it memoised
 * by hour: an offset found equal at both ends of an hour is that hour's offset, and an hour holding a
 * transition is never memoised. Schedules read the same few hours (09:00 on nearby days) over and
 * over, so intake pays `Intl`'s cost once per zone and hour rather than on every event.
 */
export class TimeZone {
  private readonly hours = new Map<number, number>();

  private constructor(
    /**
     * The name as the tz database lists it (`Australia/Lord_Howe` for `australia/lord_howe`). A name
     * Intl lists only under an older alias (`Asia/Kolkata`, listed as `Asia/Calcutta`) keeps the
     * spelling it was given: Intl has no other spelling of it to offer.
     */
    readonly name: string,
    private readonly zone: IANAZone,
  ) {}

  /** The zone named `name`, or null when the tz database has no such zone. */
  static of(name: string): TimeZone | null {
    const known = zones.get(name);
    if (known !== undefined) return known;
    const zone = name.length > 0 && name.length <= MAX_ZONE_NAME_LENGTH ? TimeZone.create(name) : null;
    if (zones.size >= MAX_ZONES) zones.clear();
    zones.set(name, zone);
    return zone;
  }

  private static create(name: string): TimeZone | null {
    if (!IANAZone.isValidZone(name)) return null;
    const spelled = properName(name);
    const zone = IANAZone.create(spelled);
    return zone.isValid ? new TimeZone(spelled, zone) : null;
  }

  /** Minutes to add to UTC to get local time at `instantMs`. */
  offsetMinutes(instantMs: number): number {
    const hour = Math.floor(instantMs / HOUR_MS);
    const memo = this.hours.get(hour);
    if (memo !== undefined) return memo;
    const start = this.zone.offset(hour * HOUR_MS);
    const end = this.zone.offset(hour * HOUR_MS + HOUR_MS - 1);
    if (start !== end) return this.zone.offset(instantMs);
    if (this.hours.size >= MAX_HOURS_PER_ZONE) this.hours.clear();
    this.hours.set(hour, start);
    return start;
  }

  /** Local wall-clock time at `instantMs`, as milliseconds of a UTC clock showing it. */
  localOf(instantMs: number): number {
    return instantMs + this.offsetMinutes(instantMs) * 60_000;
  }

  /**
   * The instant a local wall-clock time (milliseconds of a UTC clock showing it) names in this zone.
   * A time that exists twice (fall back) is the first of them, or the second when the first is
   * before `notBeforeMs` (a time moved later must not land earlier than where it started); one that
   * does not exist (spring forward) is the next valid instant, the transition itself.
   */
  instantOf(localMs: number, notBeforeMs?: number): { instantMs: number; adjusted?: 'dst-gap' | 'dst-overlap'; occurrence?: 'first' | 'second' } {
    // Offsets a day either side: transitions are months apart, so these are the only candidates.
    const before = this.offsetMinutes(localMs - 86_400_000);
    const after = this.offsetMinutes(localMs + 86_400_000);
    const valid: number[] = [];
    for (const offset of before === after ? [before] : [before, after]) {
      const candidate = localMs - offset * 60_000;
      if (this.offsetMinutes(candidate) === offset) valid.push(candidate);
    }
    if (valid.length === 1 && valid[0] !== undefined) return { instantMs: valid[0] };
    if (valid.length === 2) {
      const first = Math.min(...valid);
      const second = Math.max(...valid);
      return notBeforeMs !== undefined && first < notBeforeMs && second >= notBeforeMs
        ? { instantMs: second, adjusted: 'dst-overlap', occurrence: 'second' }
        : { instantMs: first, adjusted: 'dst-overlap', occurrence: 'first' };
    }
    // In a gap, local time jumps over `localMs`: find the transition between the two readings. The
    // bounds are whole seconds, as transitions are: from bounds carrying the local time's
    // milliseconds, the search would end that fraction past the transition (02:30:00.500 in New
    // York's gap gave 03:00:00.500 EDT, not the next valid instant, 03:00:00.000).
    let low = Math.floor((localMs - Math.max(before, after) * 60_000) / 1_000) * 1_000;
    let high = Math.ceil((localMs - Math.min(before, after) * 60_000) / 1_000) * 1_000;
    while (high - low > 1_000) {
      const mid = low + Math.floor((high - low) / 2_000) * 1_000;
      if (this.localOf(mid) >= localMs) high = mid;
      else low = mid;
    }
    return { instantMs: high, adjusted: 'dst-gap' };
  }

  /** The zone's offset at `instantMs` as ISO 8601 text (`-05:00`, `+05:30`, `Z` for zero). */
  isoOffset(instantMs: number): string {
    const minutes = this.offsetMinutes(instantMs);
    if (minutes === 0) return 'Z';
    const sign = minutes < 0 ? '-' : '+';
    const abs = Math.abs(minutes);
    return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  }

  /** `instantMs` as local ISO 8601 text with this zone's offset. */
  formatLocal(instantMs: number): string {
    return `${new Date(this.localOf(instantMs)).toISOString().slice(0, -1)}${this.isoOffset(instantMs)}`;
  }
}

const zones = new Map<string, TimeZone | null>();

let spellings: Map<string, string> | undefined;

/**
 * The zone's name as the tz database spells it (`Asia/Kolkata` for `asia/kolkata`). Not Intl's
 * canonical form, which for some zones is an older alias (`Asia/Calcutta`): the name a user wrote
 * stays the one they read back.
 */
function properName(name: string): string {
  if (!spellings) {
    spellings = new Map();
    const supported = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
    for (const zone of supported) spellings.set(zone.toLowerCase(), zone);
  }
  const known = spellings.get(name.toLowerCase());
  if (known !== undefined) return known;
  // An alias Intl does not list (`Asia/Kolkata` where it lists `Asia/Calcutta`): as written, or as
  // Intl resolves it when only the case is off.
  const resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
}

/** Whether `name` is a time zone the tz database knows. */
export function isTimeZone(name: string): boolean {
  return TimeZone.of(name) !== null;
}

/** The zone names this runtime's tz database lists (for "did you mean" hints). */
export function timeZoneNames(): readonly string[] {
  properName('UTC');
  return spellings ? [...spellings.values()] : [];
}
