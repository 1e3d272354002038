// The schedule part of the form: a due time relative to a date in the event, in the recipient's time
// zone (`schedule`), instead of a fixed wait (`delay`). Read and written here both ways, like
// entity-form.ts does for the entity fields.
import { childPath } from './issue-path.js';
import { isJsonObject, prettyJson, type JsonObject, type JsonValue } from './json.js';
import { isScheduleUnit, isWeekday, isZonePath, WEEKDAYS, type ScheduleDoc, type ScheduleUnit, type Weekday } from './schedule-words.js';

/** How a rule says when its run is due: a wait from the event, or a schedule. */
export type TimingMode = 'delay' | 'schedule';

/** Where the schedule's time zone comes from; `''` is a schedule without one (UTC). */
export type ZoneMode = '' | 'literal' | 'path';

export interface ScheduleForm {
  /** JSONPath to a date in the payload, or `event.timestamp`. */
  anchor: string;
  /** How many units, without a sign (the direction says which way); empty means no offset. */
  offsetValue: string;
  offsetUnit: ScheduleUnit;
  offsetDirection: 'before' | 'after';
  /** `HH:mm`; empty means the time of day the offset gives. */
  at: string;
  zoneMode: ZoneMode;
  /** An IANA zone, for `literal`. */
  zone: string;
  /** A JSONPath to the zone in the payload, for `path`. */
  zonePath: string;
  /** An IANA zone for a payload without the path's zone; empty means none (UTC). */
  fallbackZone: string;
  windowOn: boolean;
  /** Null when the window names no days (it opens every day). */
  windowDays: Weekday[] | null;
  windowFrom: string;
  windowTo: string;
  /** `''` leaves `ifPast` out (the engine's default, skip). */
  ifPast: '' | 'skip' | 'now';
  /** Keys of `schedule` and of `schedule.window` the form has no field for. */
  extra: JsonObject;
  windowExtra: JsonObject;
  /** A schedule the form cannot show field by field, as JSON; null when it can. */
  raw: string | null;
}

export function emptyScheduleForm(): ScheduleForm {
  return {
    anchor: '',
    offsetValue: '',
    offsetUnit: 'days',
    offsetDirection: 'before',
    at: '',
    zoneMode: '',
    zone: '',
    zonePath: '',
    fallbackZone: '',
    windowOn: false,
    windowDays: null,
    windowFrom: '08:00',
    windowTo: '18:00',
    ifPast: '',
    extra: {},
    windowExtra: {},
    raw: null,
  };
}

const optionalString = (value: JsonValue | undefined): value is string | undefined => value === undefined || typeof value === 'string';

/**
 * Reads a rule's `schedule` into the form; a value it cannot show field by field (an offset that is
 * not a number, a window without hours) comes back as JSON in `raw`, to be given back as it is.
 */
export function scheduleToForm(value: JsonValue): ScheduleForm {
  const form = emptyScheduleForm();
  const asRaw = (): ScheduleForm => ({ ...form, raw: prettyJson(value) });
  if (!isJsonObject(value)) return asRaw();
  const { anchor, offset, at, timeZone, fallbackTimeZone, window, ifPast, ...extra } = value;
  if (typeof anchor !== 'string' || !optionalString(at) || !optionalString(timeZone) || !optionalString(fallbackTimeZone)) return asRaw();
  if (ifPast !== undefined && ifPast !== 'skip' && ifPast !== 'now') return asRaw();
  form.anchor = anchor;
  form.extra = extra;
  if (offset !== undefined) {
    if (!isJsonObject(offset) || Object.keys(offset).some((k) => k !== 'value' && k !== 'unit')) return asRaw();
    const { value: amount, unit } = offset;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || !isScheduleUnit(unit)) return asRaw();
    form.offsetValue = String(Math.abs(amount));
    form.offsetUnit = unit;
    form.offsetDirection = amount < 0 ? 'before' : 'after';
  }
  form.at = at ?? '';
  if (timeZone !== undefined) {
    form.zoneMode = isZonePath(timeZone) ? 'path' : 'literal';
    if (form.zoneMode === 'path') form.zonePath = timeZone;
    else form.zone = timeZone;
  }
  form.fallbackZone = fallbackTimeZone ?? '';
  if (window !== undefined) {
    if (!isJsonObject(window)) return asRaw();
    const { days, from, to, ...windowExtra } = window;
    if (typeof from !== 'string' || typeof to !== 'string') return asRaw();
    if (days !== undefined && !(Array.isArray(days) && days.every(isWeekday))) return asRaw();
    form.windowOn = true;
    form.windowDays = days === undefined ? null : [...days];
    form.windowFrom = from;
    form.windowTo = to;
    form.windowExtra = windowExtra;
  }
  form.ifPast = ifPast ?? '';
  return form;
}

/** Where problems found while writing the document go (rule-form.ts's sink). */
export interface ScheduleIssueSink {
  add(path: string, code: string, message: string): void;
  json(path: string, source: string): JsonValue;
}

/** The `schedule` the form describes (only the parts set). */
export function scheduleToDoc(form: ScheduleForm, sink: ScheduleIssueSink): JsonValue {
  if (form.raw !== null) return sink.json('schedule', form.raw);
  const doc: JsonObject = { anchor: form.anchor };
  if (form.offsetValue.trim() !== '') {
    const amount = Number(form.offsetValue.trim());
    if (!Number.isFinite(amount)) {
      sink.add('schedule.offset.value', 'invalid_number', 'How many must be a number, like 1');
      doc['offset'] = { value: form.offsetValue, unit: form.offsetUnit };
    } else {
      if (amount < 0) sink.add('schedule.offset.value', 'invalid_number', 'Type how many without a sign, and choose before or after');
      // 0 is written as 0 whichever way: a "-0" in the document would read as "before".
      doc['offset'] = { value: amount === 0 ? 0 : form.offsetDirection === 'before' ? -amount : amount, unit: form.offsetUnit };
    }
  }
  if (form.at !== '') doc['at'] = form.at;
  if (form.zoneMode === 'literal') doc['timeZone'] = form.zone;
  if (form.zoneMode === 'path') doc['timeZone'] = form.zonePath;
  // Written whatever the zone mode, so a document read in keeps it; the form clears it when the mode leaves `path`.
  if (form.fallbackZone !== '') doc['fallbackTimeZone'] = form.fallbackZone;
  if (form.windowOn) {
    const window: JsonObject = {};
    if (form.windowDays !== null) window['days'] = [...form.windowDays];
    window['from'] = form.windowFrom;
    window['to'] = form.windowTo;
    doc['window'] = { ...window, ...form.windowExtra };
  }
  if (form.ifPast !== '') doc['ifPast'] = form.ifPast;
  return { ...doc, ...form.extra };
}

/**
 * The days of a window after one is ticked or unticked, in the week's order. Every day ticked is
 * written as the seven days (the person chose them); a window read without days stays without.
 */
export function toggleWindowDay(days: readonly Weekday[] | null, day: Weekday, on: boolean): Weekday[] {
  const current = new Set(days ?? WEEKDAYS);
  if (on) current.add(day);
  else current.delete(day);
  return WEEKDAYS.filter((d) => current.has(d));
}

/**
 * A `schedule` value, typed, when the form can show it field by field (for its words); null otherwise.
 * The types only: whether the anchor, zones and times are valid is the API's to say.
 */
export function typedSchedule(value: JsonValue | undefined): ScheduleDoc | null {
  if (value === undefined) return null;
  const form = scheduleToForm(value);
  if (form.raw !== null) return null;
  const amount = form.offsetValue === '' ? undefined : Number(form.offsetValue);
  return {
    anchor: form.anchor,
    offset: amount === undefined ? undefined : { value: form.offsetDirection === 'before' ? -amount : amount, unit: form.offsetUnit },
    at: form.at === '' ? undefined : form.at,
    timeZone: form.zoneMode === 'literal' ? form.zone : form.zoneMode === 'path' ? form.zonePath : undefined,
    fallbackTimeZone: form.fallbackZone === '' ? undefined : form.fallbackZone,
    window: form.windowOn ? { days: form.windowDays ?? undefined, from: form.windowFrom, to: form.windowTo } : undefined,
    ifPast: form.ifPast === '' ? undefined : form.ifPast,
  };
}

/** The form's schedule in words, or null while a field does not read (a number that is not one, broken JSON). */
export function scheduleFormWords(form: ScheduleForm, describe: (schedule: ScheduleDoc) => string): string | null {
  let broken = false;
  const doc = scheduleToDoc(form, { add: () => (broken = true), json: (_path, source) => ((broken = true), source) });
  const typed = broken ? null : typedSchedule(doc);
  return typed === null ? null : describe(typed);
}

/** The form paths of the schedule fields, named like the API's issue paths. */
export function scheduleFieldPaths(form: ScheduleForm, out: Set<string>): void {
  out.add('schedule');
  if (form.raw !== null) return;
  for (const part of ['anchor', 'offset', 'at', 'timeZone', 'fallbackTimeZone', 'ifPast']) out.add(childPath('schedule', part));
  out.add('schedule.offset.value');
  out.add('schedule.offset.unit');
  if (form.windowOn) for (const part of ['window', 'window.days', 'window.from', 'window.to']) out.add(`schedule.${part}`);
}
