// One file: the contact policy screen (per-channel zone, quiet hours, caps, over-cap choice, the
// plain-words summary, save with If-Match and the conflict and issue replies) edits one document.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import { errorText } from '../api/error-text.js';
import { EditorContext, type EditorContextValue } from '../components/editor-context.js';
import { Field, FieldError } from '../components/Field.js';
import { ChoiceSelect, CodeInput } from '../components/FormControls.js';
import { RetryNotice } from '../components/RetryNotice.js';
import { browserZone, zoneChoices } from '../components/ScheduleFields.js';
import { formatDateTime } from '../format.js';
import {
  CAP_PERIODS,
  describePolicy,
  formToPolicy,
  newCapRow,
  nextCapPeriod,
  POLICY_CHANNEL_NAMES,
  POLICY_CHANNELS,
  policyFieldPaths,
  policyToForm,
  zoneFieldPath,
  type ChannelPolicyForm,
  type ContactPolicyForm,
  type PolicyChannel,
  type PolicyZoneMode,
} from '../model/contact-policy-form.js';
import { fieldForPath, placeIssues, type PathIssue } from '../model/form-fields.js';
import { childPath, fieldId } from '../model/issue-path.js';

const ZONE_MODE_LABELS: Record<PolicyZoneMode, string> = {
  '': 'UTC (no zone set)',
  literal: 'A fixed time zone',
  path: 'From the event (the recipient’s zone)',
};
const PER_LABELS = { hour: 'per hour (clock hour)', day: 'per day (calendar day)', week: 'per week (Monday to Sunday)' } as const;

/** The account's contact policy: quiet hours, frequency caps and what happens over a cap, per channel. */
export function ContactPolicy({ api, announce }: { api: ApiClient; announce: (message: string) => void }) {
  const [form, setForm] = useState<ContactPolicyForm | null>(null);
  const [updatedAt, setUpdatedAt] = useState<string | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [issues, setIssues] = useState<PathIssue[]>([]);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [conflict, setConflict] = useState(false);
  const [saving, setSaving] = useState(false);
  const summaryRef = useRef<HTMLDivElement>(null);
  // A refused save moves focus to the list of problems, as the rule editor does.
  useEffect(() => {
    if (issues.length > 0) summaryRef.current?.focus();
  }, [issues]);

  const load = async () => {
    setLoadError(null);
    try {
      const policy = await api.getContactPolicy();
      setForm(policyToForm(policy));
      setUpdatedAt(policy.updatedAt);
      setConflict(false);
      setIssues([]);
    } catch (e) {
      setLoadError(errorText(e));
    }
  };
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- loaded once per screen
  }, [api]);

  const document = useMemo(() => (form ? formToPolicy(form) : null), [form]);
  const summary = document ? describePolicy(document.policy) : [];
  const fieldPaths = useMemo(() => (form ? policyFieldPaths(form) : new Set<string>()), [form]);
  const placed = useMemo(() => placeIssues(issues, fieldPaths), [issues, fieldPaths]);
  const context: EditorContextValue = useMemo(() => ({ issuesByField: placed.byField, sample: undefined, placeholders: [], facts: [] }), [placed]);

  if (loadError) {
    return (
      <div class="page">
        <h1 tabIndex={-1}>Contact policy</h1>
        <RetryNotice message={loadError} onRetry={() => void load()} />
      </div>
    );
  }
  if (!form || !document) {
    return (
      <div class="page">
        <h1 tabIndex={-1}>Contact policy</h1>
        <p role="status">Loading the contact policy…</p>
      </div>
    );
  }

  const setChannel = (channel: PolicyChannel, patch: Partial<ChannelPolicyForm>) => setForm({ ...form, channels: { ...form.channels, [channel]: { ...form.channels[channel], ...patch } } });

  const save = async (event: Event) => {
    event.preventDefault();
    setSaveError(null);
    setConflict(false);
    if (document.issues.length > 0) {
      setIssues(document.issues);
      return;
    }
    setSaving(true);
    try {
      const saved = await api.putContactPolicy(document.policy, form.version);
      setForm(policyToForm(saved));
      setUpdatedAt(saved.updatedAt);
      setIssues([]);
      announce(`Contact policy saved (version ${saved.version}).`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setConflict(true);
      else if (e instanceof ApiError && e.issues.length > 0) setIssues(e.issues);
      else setSaveError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  const problems = issues.length;
  return (
    <EditorContext.Provider value={context}>
      <div class="page">
        <div class="page-head">
          <div class="page-head__title">
            <h1 tabIndex={-1}>Contact policy</h1>
            <p class="muted">
              Limits on what one person receives across every rule: no marketing messages in quiet hours in their time zone, and at most so many per hour, day or week. Transactional
              actions skip both; nobody on the suppression list gets anything.
            </p>
          </div>
        </div>
        <p class="muted">{form.version === 0 ? 'No policy saved yet: every message goes out when its rule says.' : `Version ${form.version}, saved ${formatDateTime(updatedAt)}.`}</p>

        <section class="card" aria-labelledby="policy-summary-title">
          <h2 id="policy-summary-title">In words</h2>
          {summary.length === 0 ? (
            <p>No quiet hours and no caps.</p>
          ) : (
            <ul class="policy-summary">
              {summary.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          )}
        </section>

        {conflict ? (
          <div class="notice notice--warning" role="alert">
            <p>Someone else changed the contact policy since you opened it. Reload it to see their version (your changes here are lost), then make yours again.</p>
            <button type="button" class="button button--secondary button--small" onClick={() => void load()}>
              Reload the policy
            </button>
          </div>
        ) : null}
        {problems > 0 ? (
          <div class="error-summary" role="alert" tabIndex={-1} ref={summaryRef}>
            <h2 class="error-summary__title">{problems === 1 ? 'There is a problem to fix' : `There are ${problems} problems to fix`}</h2>
            <ul class="error-summary__list">
              {issues.map((issue, i) => {
                const field = fieldForPath(issue.path, fieldPaths);
                return (
                  <li key={i}>
                    {field === null ? (
                      <span>
                        <code>{issue.path || 'policy'}</code>: {issue.message}
                      </span>
                    ) : (
                      <a href={`#${fieldId(field)}`}>
                        <code>{issue.path}</code>: {issue.message}
                      </a>
                    )}
                  </li>
                );
              })}
            </ul>
          </div>
        ) : null}
        {saveError ? (
          <div class="notice notice--danger" role="alert">
            <p>{saveError}</p>
          </div>
        ) : null}

        <form onSubmit={(e) => void save(e)} noValidate>
          {POLICY_CHANNELS.map((channel) => (
            <ChannelSection key={channel} channel={channel} form={form.channels[channel]} set={(patch) => setChannel(channel, patch)} />
          ))}
          {Object.keys(form.otherChannels).length > 0 ? (
            <p class="muted">
              Also in the policy, kept as it is: <code>{Object.keys(form.otherChannels).join(', ')}</code>.
            </p>
          ) : null}
          <div class="form-actions">
            <button type="submit" class="button button--primary" disabled={saving}>
              {saving ? 'Saving…' : 'Save the contact policy'}
            </button>
          </div>
        </form>
      </div>
    </EditorContext.Provider>
  );
}

function ChannelSection({ channel, form, set }: { channel: PolicyChannel; form: ChannelPolicyForm; set: (patch: Partial<ChannelPolicyForm>) => void }) {
  const path = childPath('channels', channel);
  const quiet = childPath(path, 'quietHours');
  const caps = childPath(path, 'caps');
  const headingId = `${fieldId(path)}-heading`;
  const addPeriod = nextCapPeriod(form.caps);
  const zonePath = zoneFieldPath(form, channel, 'timeZone');
  const fallbackPath = zoneFieldPath(form, channel, 'fallbackTimeZone');
  return (
    <section class="card" aria-labelledby={headingId} id={fieldId(path)} tabIndex={-1}>
      <h2 id={headingId}>{POLICY_CHANNEL_NAMES[channel].title}</h2>
      <FieldError path={path} />

      <fieldset class="subsection">
        <legend>The recipient’s time zone</legend>
        <p class="field__hint">Quiet hours and the calendar of the caps are in this zone.</p>
        <Field path={`${path}$zoneMode`} label="Whose time">
          {(control) => (
            <ChoiceSelect
              {...control}
              value={form.zoneMode}
              choices={['', 'literal', 'path'] as const}
              labelOf={(m) => ZONE_MODE_LABELS[m]}
              onChoose={(zoneMode) => set({ zoneMode, ...(zoneMode === 'literal' && form.zone === '' ? { zone: browserZone() } : {}) })}
            />
          )}
        </Field>
        {form.zoneMode === 'literal' ? (
          <Field path={zonePath} label="Time zone (IANA name)">
            {(control) => <ChoiceSelect {...control} value={form.zone} choices={zoneChoices(form.zone)} onChoose={(zone) => set({ zone })} />}
          </Field>
        ) : null}
        {form.zoneMode === 'path' ? (
          <div class="field-row">
            <Field path={zonePath} label="Field of the event (JSONPath)" class="field-row__wide">
              {(control) => <CodeInput {...control} placeholder="$.client.timeZone" value={form.zonePath} onText={(zonePath) => set({ zonePath })} />}
            </Field>
            <Field path={fallbackPath} label="Else (fallback zone)" class="field-row__wide" hint="Used when the event has no zone there, or an unknown one.">
              {(control) => <ChoiceSelect {...control} value={form.fallbackZone} choices={zoneChoices(form.fallbackZone)} emptyLabel="None: UTC" onChoose={(fallbackZone) => set({ fallbackZone })} />}
            </Field>
          </div>
        ) : null}
        {form.zoneMode !== 'path' ? <FieldError path={fallbackPath} /> : null}
      </fieldset>

      <fieldset class="subsection" id={fieldId(quiet)} tabIndex={-1}>
        <legend>Quiet hours</legend>
        <FieldError path={quiet} />
        <div class="field field--inline">
          <input id={`${fieldId(quiet)}-on`} type="checkbox" checked={form.quietHours} onChange={(e) => set({ quietHours: e.currentTarget.checked })} />
          <label for={`${fieldId(quiet)}-on`}>No marketing {channel === 'sms' ? 'texts' : 'emails'} during these hours: they wait until the hours end</label>
        </div>
        {form.quietHours ? (
          <div class="field-row">
            <Field path={childPath(quiet, 'from')} label="From" class="field-row__narrow" hint="24-hour, like 21:00.">
              {(control) => <input {...control} type="time" value={form.from} onInput={(e) => set({ from: e.currentTarget.value })} />}
            </Field>
            <Field path={childPath(quiet, 'to')} label="To" class="field-row__narrow" hint="Past midnight when before From.">
              {(control) => <input {...control} type="time" value={form.to} onInput={(e) => set({ to: e.currentTarget.value })} />}
            </Field>
          </div>
        ) : null}
      </fieldset>

      <fieldset class="subsection" id={fieldId(caps)} tabIndex={-1}>
        <legend>Frequency caps</legend>
        <FieldError path={caps} />
        {form.caps.length === 0 ? <p class="muted">No caps: any number of marketing messages.</p> : null}
        <ul class="cap-rows">
          {form.caps.map((cap, i) => {
            const capPath = childPath(caps, i);
            return (
              <li key={cap.key} class="field-row" id={fieldId(capPath)} tabIndex={-1}>
                <Field path={childPath(capPath, 'max')} label={`At most (cap ${i + 1})`} class="field-row__narrow">
                  {(control) => (
                    <input
                      {...control}
                      type="number"
                      inputMode="numeric"
                      min={1}
                      step={1}
                      value={cap.max}
                      onInput={(e) => set({ caps: form.caps.map((c) => (c.key === cap.key ? { ...c, max: e.currentTarget.value } : c)) })}
                    />
                  )}
                </Field>
                <Field path={childPath(capPath, 'per')} label={`Period (cap ${i + 1})`} class="field-row__narrow">
                  {(control) => (
                    <ChoiceSelect {...control} value={cap.per} choices={CAP_PERIODS} labelOf={(p) => PER_LABELS[p]} onChoose={(per) => set({ caps: form.caps.map((c) => (c.key === cap.key ? { ...c, per } : c)) })} />
                  )}
                </Field>
                <button type="button" class="button button--quiet button--small button--danger-text" onClick={() => set({ caps: form.caps.filter((c) => c.key !== cap.key) })}>
                  Remove<span class="visually-hidden"> cap {i + 1}</span>
                </button>
                <FieldError path={capPath} />
              </li>
            );
          })}
        </ul>
        {addPeriod ? (
          <button type="button" class="button button--secondary button--small" onClick={() => set({ caps: [...form.caps, newCapRow(addPeriod, '3')] })}>
            Add a cap
          </button>
        ) : null}
        {form.caps.length > 0 || form.overCap === 'defer' ? (
          <Field path={childPath(path, 'overCap')} label="Over a cap" hint="Deferred messages go out when the full period ends; skipped ones are not sent at all.">
            {(control) => (
              <ChoiceSelect {...control} value={form.overCap} choices={['skip', 'defer'] as const} labelOf={(o) => (o === 'skip' ? 'Skip the message' : 'Defer it to the next period')} onChoose={(overCap) => set({ overCap })} />
            )}
          </Field>
        ) : null}
      </fieldset>
    </section>
  );
}
