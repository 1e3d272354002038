// The account's contact policy as the Contact policy screen edits it, and back. Pure: no DOM, no clock.
import type { ContactPolicy, ContactPolicyDocument } from '../api/types.js';
import { childPath } from './issue-path.js';
import { isJsonObject, type JsonObject, type JsonValue } from './json.js';
import { isZonePath, zoneOwner } from './schedule-words.js';

/** The channels the screen has fields for; any other channel of the stored policy is kept as it is. */
export const POLICY_CHANNELS = ['sms', 'email'] as const;
export type PolicyChannel = (typeof POLICY_CHANNELS)[number];
export const POLICY_CHANNEL_NAMES: Record<PolicyChannel, { title: string; plural: string }> = {
  sms: { title: 'Text messages (SMS)', plural: 'Texts' },
  email: { title: 'Email', plural: 'Emails' },
};

export type CapPeriod = 'hour' | 'day' | 'week';
export const CAP_PERIODS: readonly CapPeriod[] = ['hour', 'day', 'week'];
const isCapPeriod = (value: unknown): value is CapPeriod => typeof value === 'string' && (CAP_PERIODS as readonly string[]).includes(value);

/** '' is no zone at all (the engine then uses UTC). */
export type PolicyZoneMode = '' | 'literal' | 'path';

export interface CapRow {
  key: string;
  max: string;
  per: CapPeriod;
}

export interface ChannelPolicyForm {
  /** The stored policy had this channel (even as `{}`): it is written back even when empty. */
  present: boolean;
  quietHours: boolean;
  from: string;
  to: string;
  /** The recipient's zone: quiet hours and cap buckets both use it. */
  zoneMode: PolicyZoneMode;
  zone: string;
  zonePath: string;
  fallbackZone: string;
  /** Where the zone is written: in `quietHours` (as the stored policy had it) or on the channel. */
  zoneInQuietHours: boolean;
  caps: CapRow[];
  overCap: 'skip' | 'defer';
  /** `overCap` was in the stored policy, so `skip` (the default) is written back too. */
  overCapStated: boolean;
  /** Keys the form has no field for (a channel zone shadowed by the quiet hours' own), kept as they are. */
  extra: JsonObject;
  quietExtra: JsonObject;
}

export interface ContactPolicyForm {
  channels: Record<PolicyChannel, ChannelPolicyForm>;
  /** Channels the screen does not show (a custom type), kept as they are. */
  otherChannels: JsonObject;
  /** The version the form was read at (0 before any policy): the `If-Match` of the save. */
  version: number;
}

let capKeys = 0;
export function newCapRow(per: CapPeriod = 'day', max = ''): CapRow {
  capKeys += 1;
  return { key: `cap${capKeys}`, max, per };
}

/** The next period no cap uses yet (one cap per period), or null when all three have one. */
export function nextCapPeriod(caps: readonly CapRow[]): CapPeriod | null {
  return CAP_PERIODS.find((per) => !caps.some((c) => c.per === per)) ?? null;
}

export function emptyChannelForm(): ChannelPolicyForm {
  return {
    present: false,
    quietHours: false,
    from: '21:00',
    to: '08:00',
    zoneMode: '',
    zone: '',
    zonePath: '$.client.timeZone',
    fallbackZone: '',
    zoneInQuietHours: true,
    caps: [],
    overCap: 'skip',
    overCapStated: false,
    extra: {},
    quietExtra: {},
  };
}

const text = (value: JsonValue | undefined): string => (typeof value === 'string' ? value : '');

function pick(object: JsonObject, known: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(object)) if (!known.includes(k)) out[k] = v;
  return out;
}

function readZone(form: ChannelPolicyForm, timeZone: string, fallback: string): void {
  if (timeZone === '') return;
  if (isZonePath(timeZone)) {
    form.zoneMode = 'path';
    form.zonePath = timeZone;
    form.fallbackZone = fallback;
  } else {
    form.zoneMode = 'literal';
    form.zone = timeZone;
  }
}

function channelToForm(value: JsonValue | undefined): ChannelPolicyForm {
  const form = emptyChannelForm();
  if (!isJsonObject(value)) return form;
  form.present = true;
  const quiet = value['quietHours'];
  if (isJsonObject(quiet)) {
    form.quietHours = true;
    form.from = text(quiet['from']);
    form.to = text(quiet['to']);
    form.quietExtra = pick(quiet, ['from', 'to', 'timeZone', 'fallbackTimeZone']);
  }
  const known = ['quietHours', 'caps', 'overCap', 'timeZone', 'fallbackTimeZone'];
  const quietZone = isJsonObject(quiet) ? text(quiet['timeZone']) : '';
  if (isJsonObject(quiet) && quietZone !== '') {
    // The quiet hours' zone wins for quiet hours and caps alike; a channel zone next to it changes
    // nothing, and is kept untouched rather than shown as if it did.
    readZone(form, quietZone, text(quiet['fallbackTimeZone']));
    form.zoneInQuietHours = true;
    known.splice(known.indexOf('timeZone'), 2);
  } else {
    readZone(form, text(value['timeZone']), text(value['fallbackTimeZone']));
    form.zoneInQuietHours = false;
    if (isJsonObject(quiet) && quiet['fallbackTimeZone'] !== undefined) form.quietExtra['fallbackTimeZone'] = quiet['fallbackTimeZone'];
  }
  const caps = value['caps'];
  if (Array.isArray(caps) && caps.every((c) => isJsonObject(c) && isCapPeriod(c['per']) && Object.keys(c).every((k) => k === 'max' || k === 'per'))) {
    form.caps = caps.filter(isJsonObject).map((c) => newCapRow(isCapPeriod(c['per']) ? c['per'] : 'day', typeof c['max'] === 'number' ? String(c['max']) : text(c['max'])));
  } else if (caps !== undefined) {
    known.splice(known.indexOf('caps'), 1);
  }
  const overCap = value['overCap'];
  if (overCap === 'skip' || overCap === 'defer') {
    form.overCap = overCap;
    form.overCapStated = true;
  } else if (overCap !== undefined) {
    known.splice(known.indexOf('overCap'), 1);
  }
  form.extra = pick(value, known);
  return form;
}

/** Reads a policy (as `GET /contact-policy` answers it, or anything) into the form; never throws. */
export function policyToForm(policy: ContactPolicy | JsonValue): ContactPolicyForm {
  const doc: JsonObject = isJsonObject(policy) ? (policy as JsonObject) : {};
  const channels = isJsonObject(doc['channels']) ? doc['channels'] : {};
  const version = typeof doc['version'] === 'number' ? doc['version'] : 0;
  return {
    channels: { sms: channelToForm(channels['sms']), email: channelToForm(channels['email']) },
    otherChannels: pick(channels, POLICY_CHANNELS),
    version,
  };
}

export interface PolicyFormIssue {
  path: string;
  code: string;
  message: string;
}

function zoneFields(form: ChannelPolicyForm): JsonObject {
  if (form.zoneMode === 'literal') return { timeZone: form.zone };
  if (form.zoneMode === 'path') return { timeZone: form.zonePath, ...(form.fallbackZone === '' ? {} : { fallbackTimeZone: form.fallbackZone }) };
  return {};
}

function channelToDoc(form: ChannelPolicyForm, path: string, issues: PolicyFormIssue[]): JsonObject | null {
  const out: JsonObject = {};
  const zone = zoneFields(form);
  const zoneInQuiet = form.quietHours && form.zoneInQuietHours;
  if (form.quietHours) out['quietHours'] = { from: form.from, to: form.to, ...(zoneInQuiet ? zone : {}), ...form.quietExtra };
  if (form.caps.length > 0) {
    out['caps'] = form.caps.map((cap, i) => {
      const max = cap.max.trim() === '' ? Number.NaN : Number(cap.max);
      if (Number.isNaN(max)) issues.push({ path: childPath(childPath(childPath(path, 'caps'), i), 'max'), code: 'invalid_number', message: 'At most must be a whole number, like 3' });
      return { max: Number.isNaN(max) ? cap.max : max, per: cap.per };
    });
  }
  if (form.overCapStated || form.overCap !== 'skip') out['overCap'] = form.overCap;
  if (!zoneInQuiet) Object.assign(out, zone);
  Object.assign(out, form.extra);
  return form.present || Object.keys(out).length > 0 ? out : null;
}

/** The policy document the form describes (the `PUT /contact-policy` body), and what the form found wrong first. */
export function formToPolicy(form: ContactPolicyForm): { policy: ContactPolicyDocument; issues: PolicyFormIssue[] } {
  const issues: PolicyFormIssue[] = [];
  const channels: JsonObject = {};
  for (const channel of POLICY_CHANNELS) {
    const doc = channelToDoc(form.channels[channel], childPath('channels', channel), issues);
    if (doc) channels[channel] = doc;
  }
  // The wire type is the server's schema; what the form could not parse is sent as typed, for the API to name.
  return { policy: { channels: { ...channels, ...form.otherChannels } } as ContactPolicyDocument, issues };
}

/** Every path the screen has a field for, named like the API's issue paths (`channels.sms.quietHours.from`). */
export function policyFieldPaths(form: ContactPolicyForm): Set<string> {
  const out = new Set<string>(['channels']);
  for (const channel of POLICY_CHANNELS) {
    const c = form.channels[channel];
    const path = childPath('channels', channel);
    out.add(path);
    const zoneParent = c.quietHours && c.zoneInQuietHours ? childPath(path, 'quietHours') : path;
    if (c.quietHours) for (const f of ['quietHours', 'quietHours.from', 'quietHours.to']) out.add(`${path}.${f}`);
    out.add(childPath(zoneParent, 'timeZone'));
    out.add(childPath(zoneParent, 'fallbackTimeZone'));
    out.add(childPath(path, 'caps'));
    c.caps.forEach((_, i) => {
      const cap = childPath(childPath(path, 'caps'), i);
      out.add(cap);
      out.add(childPath(cap, 'max'));
      out.add(childPath(cap, 'per'));
    });
    out.add(childPath(path, 'overCap'));
  }
  return out;
}

/** The field path of a channel's zone inputs, where the form writes them. */
export function zoneFieldPath(form: ChannelPolicyForm, channel: PolicyChannel, field: 'timeZone' | 'fallbackTimeZone'): string {
  const path = childPath('channels', channel);
  return childPath(form.quietHours && form.zoneInQuietHours ? childPath(path, 'quietHours') : path, field);
}

// ---------------------------------------------------------------------------------------------
// In words

type ChannelDoc = NonNullable<ContactPolicyDocument['channels'][string]>;

const PER_WORDS: Record<CapPeriod, string> = { hour: 'an hour', day: 'a day', week: 'a week' };

/** "in the client's time zone", "in America/New_York", "in UTC". */
function zoneWords(timeZone: string | undefined): string {
  if (timeZone === undefined || timeZone === '') return 'in UTC';
  if (!isZonePath(timeZone)) return `in ${timeZone}`;
  return `in ${zoneOwner(timeZone)} time zone`;
}

function joinAnd(parts: readonly string[]): string {
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1] ?? ''}`;
}

/**
 * One channel's policy in one line: "Texts: not between 21:00 and 08:00 in the client's time zone;
 * at most 3 a day and 10 a week; over the cap: skipped". Null for a channel that limits nothing.
 */
export function describeChannelPolicy(channel: string, policy: ChannelDoc | undefined): string | null {
  if (!policy) return null;
  const name = channel === 'sms' || channel === 'email' ? POLICY_CHANNEL_NAMES[channel].plural : `${channel} messages`;
  const zone = zoneWords(policy.quietHours?.timeZone ?? policy.timeZone);
  const parts: string[] = [];
  if (policy.quietHours) parts.push(`not between ${policy.quietHours.from} and ${policy.quietHours.to} ${zone}`);
  const caps = [...(policy.caps ?? [])].sort((a, b) => CAP_PERIODS.indexOf(a.per) - CAP_PERIODS.indexOf(b.per));
  if (caps.length > 0) {
    const counted = caps.map((c) => `${c.max} ${PER_WORDS[c.per]}`);
    // Cap buckets are calendar periods in the recipient's zone; said once, when quiet hours did not say it.
    parts.push(`at most ${joinAnd(counted)}${policy.quietHours ? '' : ` ${zone}`}`);
    parts.push(`over the cap: ${policy.overCap === 'defer' ? 'deferred to the next period' : 'skipped'}`);
  }
  // The throttle has no field here yet (it is kept as stored); it is still said, since it holds sends back.
  if (policy.throttle) parts.push(`sent at most ${policy.throttle.perSecond} a second for the whole account${policy.throttle.burst === undefined ? '' : ` (bursts of ${policy.throttle.burst})`}`);
  if (parts.length === 0) return null;
  return `${name}: ${parts.join('; ')}`;
}

/** The whole policy in words, one line per channel that limits something (sms, email, then the rest). */
export function describePolicy(policy: Pick<ContactPolicyDocument, 'channels'>): string[] {
  const order = (name: string) => {
    const i = (POLICY_CHANNELS as readonly string[]).indexOf(name);
    return i < 0 ? POLICY_CHANNELS.length : i;
  };
  return Object.keys(policy.channels)
    .sort((a, b) => order(a) - order(b) || a.localeCompare(b))
    .map((name) => describeChannelPolicy(name, policy.channels[name]))
    .filter((line): line is string => line !== null);
}
