// The rule editor stays one file: its sections (basics, when, conditions, actions, the JSON view and
// the test panel's wiring) all read and write the same form state, issues and focus, and a reader
// follows an edit from its control to the saved document in one place.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import { errorText } from '../api/error-text.js';
import type { EventType, Rule } from '../api/types.js';
import { ActionCard } from '../components/ActionCard.js';
import { GroupEditor, type TreeActions } from '../components/ConditionEditor.js';
import { factsListId, pathsListId } from '../components/FactInputs.js';
import { EditorContext, type EditorContextValue } from '../components/editor-context.js';
import { EntitySection } from '../components/EntitySection.js';
import { ErrorSummary } from '../components/ErrorSummary.js';
import { Field, FieldError } from '../components/Field.js';
import { addChild, removeNode, setGroupMode, updateNode } from '../model/condition-tree.js';
import { formFieldPaths, type PathIssue } from '../model/form-fields.js';
import { issuesForPeople } from '../model/issue-messages.js';
import { fieldId } from '../model/issue-path.js';
import { parseJson, prettyJson, isJsonObject } from '../model/json.js';
import { documentOf } from '../model/rule-document.js';
import { factsFrom, placeholdersFrom } from '../model/placeholders.js';
import { DELAY_UNITS, emptyAction, emptyRuleForm, formToRule, ruleToForm, type ActionEntry, type GroupForm, type RuleForm } from '../model/rule-form.js';
import { Link, navigate, ruleHref, runsHref } from '../router.js';
import { TestPanel } from './TestPanel.js';
import { ChoiceSelect, JsonTextarea, Suggestions } from '../components/FormControls.js';
import { ScheduleFields } from '../components/ScheduleFields.js';
import type { TimingMode } from '../model/schedule-form.js';

interface RuleEditorProps {
  api: ApiClient;
  /** Undefined for a new rule. */
  ruleId?: string | undefined;
  announce: (message: string) => void;
}

const OTHER_EVENT = '\u0000other';

const TIMINGS: readonly TimingMode[] = ['delay', 'schedule'];
const TIMING_LABELS: Record<TimingMode, string> = {
  delay: 'Wait a fixed delay',
  schedule: 'At a time relative to a date in the event',
};

/** Builds or edits a rule: a form and a JSON view of the same document, a dry run, and saving. */
export function RuleEditor({ api, ruleId, announce }: RuleEditorProps) {
  const [eventTypes, setEventTypes] = useState<EventType[]>([]);
  const [saved, setSaved] = useState<Rule | null>(null);
  const [loading, setLoading] = useState(ruleId !== undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [form, setForm] = useState<RuleForm>(() => emptyRuleForm());
  const [savedJson, setSavedJson] = useState<string>(() => JSON.stringify(formToRule(emptyRuleForm()).rule));
  const [view, setView] = useState<'form' | 'json'>('form');
  const [jsonText, setJsonText] = useState(() => prettyJson(formToRule(emptyRuleForm()).rule));
  const [jsonError, setJsonError] = useState<string | null>(null);
  const [apiIssues, setApiIssues] = useState<PathIssue[]>([]);
  const [showLocal, setShowLocal] = useState(false);
  const [saving, setSaving] = useState(false);
  const [notice, setNotice] = useState<{ tone: 'danger' | 'warning'; text: string; reload?: boolean } | null>(null);
  const [customEvent, setCustomEvent] = useState(false);
  const summaryRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let cancelled = false;
    api
      .eventTypes()
      .then((r) => !cancelled && setEventTypes(r.items))
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [api]);

  const load = async () => {
    if (ruleId === undefined) return;
    setLoading(true);
    setLoadError(null);
    try {
      const rule = await api.getRule(ruleId);
      applySaved(rule);
    } catch (error) {
      setLoadError(error instanceof ApiError && error.status === 404 ? 'This rule does not exist (or belongs to another account).' : errorText(error));
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- reload only when the rule changes
  }, [ruleId]);

  const applySaved = (rule: Rule) => {
    const next = ruleToForm(documentOf(rule) as never);
    const doc = formToRule(next).rule;
    setSaved(rule);
    setForm(next);
    setSavedJson(JSON.stringify(doc));
    setJsonText(prettyJson(doc));
    setJsonError(null);
    setApiIssues([]);
    setShowLocal(false);
    setNotice(null);
  };

  const { rule: doc, issues: localIssues } = useMemo(() => formToRule(form), [form]);
  const dirty = JSON.stringify(doc) !== savedJson;
  const fieldPaths = useMemo(() => formFieldPaths(form), [form]);
  const placed = useMemo(
    () => issuesForPeople([...(showLocal || localIssues.length > 0 ? localIssues : []), ...apiIssues], fieldPaths, form.actions.map((a) => (a.kind === 'action' ? a.type : ''))),
    [localIssues, apiIssues, showLocal, fieldPaths, form.actions],
  );
  const issues = placed.shown;

  const eventType = eventTypes.find((t) => t.name === form.eventName);
  const sample = eventType?.samplePayload;
  const placeholders = useMemo(() => (sample ? placeholdersFrom(sample) : []), [sample]);
  const facts = useMemo(() => (sample ? factsFrom(sample) : []), [sample]);
  const context: EditorContextValue = useMemo(() => ({ issuesByField: placed.byField, sample, placeholders, facts }), [placed, sample, placeholders, facts]);

  // Warn before a reload or tab close drops unsaved work.
  useEffect(() => {
    if (!dirty) return;
    const onBeforeUnload = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, [dirty]);

  // Once the API has reported problems, re-check as the user fixes them, so fixed ones disappear.
  const revalidation = useRef(0);
  useEffect(() => {
    if (apiIssues.length === 0) return;
    const timer = setTimeout(() => {
      // Only the answer to the latest document counts; an earlier one may arrive after it.
      const request = ++revalidation.current;
      api
        .validateRule(doc)
        .then((result) => {
          if (request === revalidation.current) setApiIssues(result.valid ? [] : result.issues);
        })
        .catch(() => undefined);
    }, 400);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- re-run on document changes only
  }, [JSON.stringify(doc)]);

  /** Every form edit goes through here, so the JSON view always shows the current document. */
  const change = (next: RuleForm) => {
    setForm(next);
    setJsonText(prettyJson(formToRule(next).rule));
    setJsonError(null);
  };
  const patch = (p: Partial<RuleForm>) => change({ ...form, ...p });

  const onJsonInput = (text: string) => {
    setJsonText(text);
    const parsed = parseJson(text);
    if (!parsed.ok) {
      setJsonError(`The JSON is not valid (${parsed.message}). The form keeps the last valid version.`);
      return;
    }
    if (!isJsonObject(parsed.value)) {
      setJsonError('A rule is a JSON object ({ ... }). The form keeps the last valid version.');
      return;
    }
    setJsonError(null);
    setForm(ruleToForm(parsed.value));
  };

  // Focus follows the edit: into a new condition's first field; to the section after a removal.
  const focusLater = (selector: string) => requestAnimationFrame(() => document.querySelector<HTMLElement>(selector)?.focus());
  const tree: TreeActions = {
    update: (key, fn) => patch({ conditions: updateNode(form.conditions, key, fn) }),
    remove: (key) => {
      patch({ conditions: removeNode(form.conditions, key) });
      focusLater(`#${fieldId('conditions')}`);
    },
    add: (groupKey, child) => {
      patch({ conditions: addChild(form.conditions, groupKey, child) });
      focusLater(`[data-key="${child.key}"] input, [data-key="${child.key}"] select`);
    },
    setMode: (groupKey, mode) =>
      patch({ conditions: updateNode(form.conditions, groupKey, (n) => (n.kind === 'group' ? setGroupMode(n, mode, facts[0]) : n)) }),
  };

  const setAction = (index: number, action: ActionEntry) => patch({ actions: form.actions.map((a, i) => (i === index ? action : a)) });
  const moveAction = (index: number, delta: -1 | 1) => {
    const actions = [...form.actions];
    const [moved] = actions.splice(index, 1);
    if (!moved) return;
    actions.splice(index + delta, 0, moved);
    patch({ actions });
    requestAnimationFrame(() => document.getElementById(fieldId(`actions[${index + delta}]`))?.focus());
  };
  const addAction = (type: string) => {
    const action = emptyAction(type);
    if (facts[0]) action.recipientFact = facts[0];
    patch({ actions: [...form.actions, action] });
    const index = form.actions.length;
    requestAnimationFrame(() => document.getElementById(fieldId(`actions[${index}]`))?.focus());
  };

  const focusSummary = () => requestAnimationFrame(() => summaryRef.current?.focus());

  const save = async () => {
    revalidation.current += 1;
    setNotice(null);
    setShowLocal(true);
    if (localIssues.length > 0) {
      setApiIssues([]);
      focusSummary();
      return;
    }
    setSaving(true);
    try {
      const rule = saved ? await api.updateRule(saved.id, doc, saved.version) : await api.createRule(doc);
      applySaved(rule);
      announce(saved ? `Saved "${rule.name}" (version ${rule.version}).` : `Created "${rule.name}".`);
      if (!saved) navigate(ruleHref(rule.id), { replace: true });
    } catch (error) {
      if (error instanceof ApiError && error.issues.length > 0) {
        setApiIssues(error.issues);
        focusSummary();
      } else if (error instanceof ApiError && error.status === 409) {
        setNotice({ tone: 'warning', text: `Someone else changed this rule while you were editing it. ${error.message}`, reload: true });
      } else {
        setNotice({ tone: 'danger', text: errorText(error) });
      }
    } finally {
      setSaving(false);
    }
  };

  const remove = async () => {
    if (!saved) return;
    if (!window.confirm(`Delete the rule "${saved.name}"? Its pending runs will be skipped.`)) return;
    try {
      await api.deleteRule(saved.id);
      announce(`Deleted "${saved.name}".`);
      navigate('');
    } catch (error) {
      setNotice({ tone: 'danger', text: errorText(error) });
    }
  };

  const onTestIssues = (found: PathIssue[]) => {
    revalidation.current += 1;
    setApiIssues(found);
    setShowLocal(true);
    if (found.length > 0) focusSummary();
  };

  if (loading) return <p class="loading" role="status">Loading the rule…</p>;
  if (loadError) {
    return (
      <div class="page">
        <h1 tabIndex={-1}>Rule not available</h1>
        <p class="notice notice--danger">{loadError}</p>
        <Link to="" class="button button--secondary">
          Back to rules
        </Link>
      </div>
    );
  }

  const title = saved ? saved.name : 'New rule';
  const eventNames = eventTypes.map((t) => t.name);
  const eventSelectValue = customEvent || (form.eventName !== '' && !eventNames.includes(form.eventName)) ? OTHER_EVENT : form.eventName;

  return (
    <EditorContext.Provider value={context}>
      <div class="page editor">
        <nav class="breadcrumb" aria-label="Breadcrumb">
          <Link to="">Rules</Link>
          <span aria-hidden="true"> / </span>
          <span aria-current="page">{saved ? 'Edit rule' : 'New rule'}</span>
        </nav>
        <div class="page-head">
          <div class="page-head__title">
            <h1 tabIndex={-1} class="break">
              {title}
            </h1>
            {saved ? (
              <p class="muted">
                Version {saved.version}
                {dirty ? ' · unsaved changes' : ' · saved'}
              </p>
            ) : (
              <p class="muted">{dirty ? 'Not saved yet' : 'Describe when the rule runs and what it sends.'}</p>
            )}
          </div>
          <div class="page-head__actions">
            {saved ? (
              <>
                <Link to={runsHref(saved.id)} class="button button--secondary">
                  Runs
                </Link>
                <button type="button" class="button button--quiet button--danger-text" onClick={() => void remove()}>
                  Delete
                </button>
              </>
            ) : null}
            <button type="button" class="button button--primary" onClick={() => void save()} disabled={saving} aria-describedby={issues.length > 0 ? 'error-summary-title' : undefined}>
              {saving ? 'Saving…' : saved ? 'Save changes' : 'Save rule'}
            </button>
          </div>
        </div>

        {notice ? (
          <div class={`notice notice--${notice.tone}`} role="alert">
            <p>{notice.text}</p>
            {notice.reload ? (
              <button type="button" class="button button--secondary button--small" onClick={() => void load()}>
                Load the latest version (discards your changes)
              </button>
            ) : null}
          </div>
        ) : null}

        <ErrorSummary
          containerRef={summaryRef}
          issues={issues}
          fieldOf={placed.fieldOf}
          onJump={() => setView('form')}
        />

        <div class="editor__layout">
          <div class="editor__main">
            <Tabs view={view} onChange={setView} />
            <div role="tabpanel" id="panel-form" aria-labelledby="tab-form" hidden={view !== 'form'} class="panel">
              {view === 'form' ? (
                <>
                  <Suggestions id={factsListId()} values={facts} />
                  {facts.map((fact, i) => (
                    <Suggestions key={fact} id={pathsListId(i)} values={placeholders.filter((p) => p.fact === fact).map((p) => p.jsonPath)} />
                  ))}

                  <section class="card" aria-labelledby="basics-heading">
                    <h2 id="basics-heading">Basics</h2>
                    <Field path="name" label="Name">
                      {(control) => <input {...control} type="text" autocomplete="off" maxLength={200} value={form.name} onInput={(e) => patch({ name: e.currentTarget.value })} />}
                    </Field>
                    <Field path="description" label="Description (optional)">
                      {(control) => <textarea {...control} rows={2} value={form.description} onInput={(e) => patch({ description: e.currentTarget.value })} />}
                    </Field>
                    <div class="field field--inline">
                      <input id={fieldId('enabled')} type="checkbox" class="switch" checked={form.enabled} onChange={(e) => patch({ enabled: e.currentTarget.checked })} />
                      <label for={fieldId('enabled')}>Enabled: new events start runs of this rule</label>
                      <FieldError path="enabled" />
                    </div>
                  </section>

                  <section class="card" aria-labelledby="when-heading">
                    <h2 id="when-heading">When</h2>
                    <div class="field-row">
                      <Field
                        path="trigger.eventName"
                        label="Event"
                        class="field-row__wide"
                        hint={eventType?.description ?? (eventSelectValue === OTHER_EVENT ? 'An event name your CRM publishes.' : undefined)}
                      >
                        {(control) =>
                          eventSelectValue === OTHER_EVENT ? (
                            <div class="input-with-button">
                              <input {...control} type="text" autocomplete="off" spellcheck={false} value={form.eventName} onInput={(e) => patch({ eventName: e.currentTarget.value })} />
                              {eventNames.length > 0 ? (
                                <button
                                  type="button"
                                  class="button button--quiet button--small"
                                  onClick={() => {
                                    setCustomEvent(false);
                                    patch({ eventName: eventNames[0] ?? '' });
                                  }}
                                >
                                  Pick from the list
                                </button>
                              ) : null}
                            </div>
                          ) : (
                            <select
                              {...control}
                              value={eventSelectValue}
                              onChange={(e) => {
                                const value = e.currentTarget.value;
                                if (value === OTHER_EVENT) {
                                  setCustomEvent(true);
                                  patch({ eventName: '' });
                                } else {
                                  setCustomEvent(false);
                                  patch({ eventName: value });
                                }
                              }}
                            >
                              <option value="" disabled>
                                Choose an event…
                              </option>
                              {eventNames.map((name) => (
                                <option key={name} value={name}>
                                  {name}
                                </option>
                              ))}
                              <option value={OTHER_EVENT}>Another event name…</option>
                            </select>
                          )
                        }
                      </Field>
                    </div>
                    <fieldset class="subsection">
                      <legend>When the run is due</legend>
                      <div class="segmented">
                        {TIMINGS.map((timing) => (
                          <label key={timing} class="segmented__option">
                            <input
                              type="radio"
                              name="rule-timing"
                              value={timing}
                              checked={form.timing === timing}
                              // A schedule replaces the wait: a wait left in the document would be refused next to it.
                              onChange={() => patch(timing === 'schedule' ? { timing, delayValue: '0', delayUnit: 'minutes' } : { timing })}
                            />
                            <span>{TIMING_LABELS[timing]}</span>
                          </label>
                        ))}
                      </div>
                    </fieldset>
                    {form.timing === 'delay' ? (
                      <>
                        <div class="field-row">
                          <Field path="delay.value" label="Wait" class="field-row__narrow">
                            {(control) => (
                              <input {...control} type="text" inputMode="numeric" autocomplete="off" value={form.delayValue} onInput={(e) => patch({ delayValue: e.currentTarget.value })} />
                            )}
                          </Field>
                          <Field path="delay.unit" label="Unit" class="field-row__narrow">
                            {(control) => <ChoiceSelect {...control} value={form.delayUnit} choices={DELAY_UNITS} onChoose={(delayUnit) => patch({ delayUnit })} />}
                          </Field>
                        </div>
                        <p class="field__hint">0 runs the rule straight away. The conditions are checked when the wait is over, against the rule as it is then.</p>
                      </>
                    ) : (
                      <>
                        <FieldError path="delay.value" />
                        <ScheduleFields schedule={form.schedule} onChange={(schedule) => patch({ schedule })} />
                      </>
                    )}
                  </section>

                  <EntitySection entity={form.entity} eventNames={eventNames} onChange={(entity) => patch({ entity })} />

                  <section class="card" aria-labelledby="conditions-heading" id={fieldId('conditions')} tabIndex={-1}>
                    <h2 id="conditions-heading">Only if</h2>
                    <p class="card__intro">Conditions read the event's payload: a fact (its top-level key, like <code>job</code>) and a JSONPath inside it.</p>
                    {form.conditions.kind === 'group' ? (
                      <>
                        <FieldError path="conditions" />
                        <GroupEditor group={form.conditions as GroupForm} path="conditions" label="Conditions" number="" actions={tree} depth={0} isRoot />
                      </>
                    ) : (
                      <Field path="conditions" label="Conditions (JSON)" hint="These conditions are not in a shape the form can show; edit them as JSON.">
                        {(control) => (
                          <JsonTextarea
                            {...control}
                            rows={6}
                            value={form.conditions.kind === 'raw' ? form.conditions.text : ''}
                            onText={(text) => patch({ conditions: { kind: 'raw', key: form.conditions.key, text } })}
                          />
                        )}
                      </Field>
                    )}
                  </section>

                  <section class="card" aria-labelledby="actions-heading" id={fieldId('actions')} tabIndex={-1}>
                    <h2 id="actions-heading">Then</h2>
                    <FieldError path="actions" />
                    {form.actions.length === 0 ? <p class="card__intro">Add what the rule sends. Messages can use placeholders from the event.</p> : null}
                    <div class="actions-list">
                      {form.actions.map((action, i) => (
                        <ActionCard
                          key={action.key}
                          action={action}
                          index={i}
                          count={form.actions.length}
                          onChange={(a) => setAction(i, a)}
                          onRemove={() => {
                            patch({ actions: form.actions.filter((_, j) => j !== i) });
                            focusLater(`#${fieldId('actions')}`);
                          }}
                          onMove={(delta) => moveAction(i, delta)}
                        />
                      ))}
                    </div>
                    <div class="add-actions" role="group" aria-label="Add an action">
                      <button type="button" class="button button--secondary" onClick={() => addAction('sms')}>
                        + SMS
                      </button>
                      <button type="button" class="button button--secondary" onClick={() => addAction('email')}>
                        + Email
                      </button>
                      <button type="button" class="button button--secondary" onClick={() => addAction('webhook')}>
                        + Webhook
                      </button>
                    </div>
                  </section>
                </>
              ) : null}
            </div>
            <div role="tabpanel" id="panel-json" aria-labelledby="tab-json" hidden={view !== 'json'} class="panel">
              {view === 'json' ? (
                <section class="card">
                  <h2 id="json-heading">Rule document</h2>
                  <p class="card__intro">Exactly what is saved. Edits here update the form; the form's edits show up here.</p>
                  <label for="rule-json" class="field__label">
                    Rule JSON
                  </label>
                  {jsonError ? (
                    <p id="rule-json-error" class="field__error json-error" role="alert">
                      {jsonError}
                    </p>
                  ) : null}
                  <JsonTextarea
                    id="rule-json"
                    class="json-editor"
                    rows={24}
                    value={jsonText}
                    aria-invalid={jsonError ? 'true' : undefined}
                    aria-describedby={jsonError ? 'rule-json-error' : undefined}
                    onText={onJsonInput}
                  />
                </section>
              ) : null}
            </div>
          </div>
          <aside class="editor__side" aria-labelledby="test-heading">
            <TestPanel api={api} doc={doc} localIssues={localIssues} saved={saved} dirty={dirty} eventName={form.eventName} eventTypes={eventTypes} onIssues={onTestIssues} />
          </aside>
        </div>
      </div>
    </EditorContext.Provider>
  );
}

function Tabs({ view, onChange }: { view: 'form' | 'json'; onChange: (view: 'form' | 'json') => void }) {
  const tabs = [
    { id: 'form', label: 'Form' },
    { id: 'json', label: 'JSON' },
  ] as const;
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft' && event.key !== 'Home' && event.key !== 'End') return;
    event.preventDefault();
    const next = event.key === 'Home' ? 'form' : event.key === 'End' ? 'json' : view === 'form' ? 'json' : 'form';
    onChange(next);
    requestAnimationFrame(() => document.getElementById(`tab-${next}`)?.focus());
  };
  return (
    <div role="tablist" aria-label="Edit as" class="tabs" onKeyDown={onKeyDown}>
      {tabs.map((tab) => (
        <button
          key={tab.id}
          type="button"
          role="tab"
          id={`tab-${tab.id}`}
          aria-selected={view === tab.id}
          aria-controls={`panel-${tab.id}`}
          tabIndex={view === tab.id ? 0 : -1}
          class="tabs__tab"
          onClick={() => onChange(tab.id)}
        >
          {tab.label}
        </button>
      ))}
    </div>
  );
}
