import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ApiClient } from '../api/client.js';
import { errorText } from '../api/error-text.js';
import type { DryRunOk, EventType, Rule, Trigger } from '../api/types.js';
import { DryRunView } from '../components/DryRunView.js';
import { formatDateTime } from '../format.js';
import type { FormIssue } from '../model/rule-form.js';
import type { PathIssue } from '../model/form-fields.js';
import { readsCurrentState } from '../model/entity-form.js';
import { isJsonObject, parseJson, prettyJson, type JsonObject } from '../model/json.js';
import { JsonTextarea } from '../components/FormControls.js';

interface TestPanelProps {
  api: ApiClient;
  /** The document in the editor now. */
  doc: JsonObject;
  localIssues: readonly FormIssue[];
  saved: Rule | null;
  dirty: boolean;
  eventName: string;
  eventTypes: readonly EventType[];
  /** Validation problems found while testing, to show at their fields. */
  onIssues: (issues: PathIssue[]) => void;
}

interface SampleChoice {
  id: string;
  label: string;
  name: string;
  payload: JsonObject;
}

/**
 * Dry run: tries the rule in the editor against a sample event (the event type's sample, a recent
 * run's event, or pasted JSON) and shows what would happen. Nothing is stored or sent.
 */
export function TestPanel({ api, doc, localIssues, saved, dirty, eventName, eventTypes, onIssues }: TestPanelProps) {
  const [recent, setRecent] = useState<Trigger[]>([]);
  const [choice, setChoice] = useState('');
  const [sampleText, setSampleText] = useState('');
  const [touched, setTouched] = useState(false);
  const [sampleError, setSampleError] = useState<string | null>(null);
  /** Current state for facts the rule reads at fire time, as the engine's loaders would answer (JSON object, fact → value). */
  const [currentText, setCurrentText] = useState('');
  const [currentError, setCurrentError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<{ dryRun: DryRunOk; name: string; warnings: PathIssue[] } | null>(null);
  const [message, setMessage] = useState<{ tone: 'danger' | 'warning'; text: string } | null>(null);

  useEffect(() => {
    if (!saved) return;
    api
      .listTriggers({ ruleId: saved.id, limit: 5 })
      .then((page) => setRecent(page.items))
      .catch(() => undefined);
  }, [api, saved?.id]);

  const choices: SampleChoice[] = [
    ...eventTypes
      .filter((t) => t.samplePayload)
      .map((t) => ({ id: `type:${t.name}`, label: `Sample ${t.name} event`, name: t.name, payload: t.samplePayload ?? {} })),
    ...recent.map((t) => ({
      id: `run:${t.id}`,
      label: `Event of the run at ${formatDateTime(t.createdAt)}`,
      name: t.triggeringEvent.name,
      payload: t.triggeringEvent.payload,
    })),
  ];

  // Until the user edits the sample, follow the rule's event: its sample is the natural one.
  useEffect(() => {
    if (touched) return;
    const own = choices.find((c) => c.id === `type:${eventName}`);
    if (own) {
      setChoice(own.id);
      setSampleText(prettyJson(own.payload));
    } else if (choice === '' || choice.startsWith('type:')) {
      setChoice('');
      setSampleText(eventName ? '{\n  \n}' : '');
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps -- follow the event and the catalogue
  }, [eventName, eventTypes, touched]);

  const sampleName = choices.find((c) => c.id === choice)?.name ?? eventName;
  const readsCurrent = readsCurrentState(doc['evaluate']);

  const pick = (id: string) => {
    setChoice(id);
    setTouched(true);
    const found = choices.find((c) => c.id === id);
    if (found) setSampleText(prettyJson(found.payload));
  };

  const run = async () => {
    setMessage(null);
    setResult(null);
    const parsed = parseJson(sampleText);
    if (!parsed.ok || !isJsonObject(parsed.value)) {
      setSampleError(parsed.ok ? 'The event payload must be a JSON object.' : `The event payload is not valid JSON: ${parsed.message}`);
      document.getElementById('sample-payload')?.focus();
      return;
    }
    setSampleError(null);
    let current: JsonObject | undefined;
    if (readsCurrent && currentText.trim() !== '') {
      const parsedCurrent = parseJson(currentText);
      if (!parsedCurrent.ok || !isJsonObject(parsedCurrent.value)) {
        setCurrentError(parsedCurrent.ok ? 'The current state must be a JSON object: fact name → value.' : `The current state is not valid JSON: ${parsedCurrent.message}`);
        document.getElementById('sample-current')?.focus();
        return;
      }
      current = parsedCurrent.value;
    }
    setCurrentError(null);
    if (localIssues.length > 0) {
      onIssues([]);
      setMessage({ tone: 'warning', text: 'Fix the problems listed at the top of the rule first, then run the test again.' });
      return;
    }
    const sample = { payload: parsed.value, name: sampleName || eventName, ...(current ? { current } : {}) };
    setRunning(true);
    try {
      if (saved && !dirty) {
        // The saved rule's test answers no save warnings; its validation says which actions have no gateway.
        const [dryRun, checked] = await Promise.all([api.testRule(saved.id, sample), api.validateRule(doc)]);
        if (dryRun.valid) setResult({ dryRun, name: sample.name, warnings: checked.valid ? (checked.warnings ?? []) : [] });
        else onIssues(dryRun.issues);
      } else {
        const validated = await api.validateRule(doc, sample);
        if (!validated.valid) {
          onIssues(validated.issues);
          setMessage({ tone: 'warning', text: 'The rule has problems, listed at the top of the rule: fix them to test it.' });
        } else {
          onIssues([]);
          if (validated.dryRun?.valid) setResult({ dryRun: validated.dryRun, name: sample.name, warnings: validated.warnings ?? [] });
        }
      }
    } catch (error) {
      setMessage({ tone: 'danger', text: errorText(error) });
    } finally {
      setRunning(false);
    }
  };

  return (
    <section class="card test-panel">
      <h2 id="test-heading">Test with a sample event</h2>
      <p class="card__intro">{saved && !dirty ? 'Tries the saved rule.' : 'Tries the rule as it is in the editor, unsaved.'} Nothing is stored or sent.</p>
      {choices.length > 0 ? (
        <div class="field">
          <label for="sample-choice" class="field__label">
            Sample
          </label>
          <select id="sample-choice" value={choice} onChange={(e) => pick(e.currentTarget.value)}>
            <option value="">Pasted or typed below</option>
            {choices.map((c) => (
              <option key={c.id} value={c.id}>
                {c.label}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      <SampleJsonField
        id="sample-payload"
        label="Event payload (JSON)"
        rows={10}
        value={sampleText}
        error={sampleError}
        onText={(text) => {
          setSampleText(text);
          setTouched(true);
          setChoice('');
        }}
      />
      {readsCurrent ? (
        <SampleJsonField
          id="sample-current"
          label="Current state (JSON, optional)"
          hint={
            <>
              The rule reads facts as they are when it fires. Give them here, fact by fact (<code>{'{ "job": { ... } }'}</code>), to see what it would do now; facts left out keep the event's value.
            </>
          }
          rows={6}
          value={currentText}
          error={currentError}
          onText={setCurrentText}
        />
      ) : null}
      <button type="button" class="button button--primary button--block" onClick={() => void run()} disabled={running}>
        {running ? 'Testing…' : 'Run test'}
      </button>
      <div class="test-panel__result" aria-live="polite">
        {message ? <p class={`notice notice--${message.tone}`}>{message.text}</p> : null}
        {result ? (
          <DryRunView result={result.dryRun} eventName={result.name} ruleEvent={String((doc['trigger'] as JsonObject | undefined)?.['eventName'] ?? eventName)} warnings={result.warnings} />
        ) : null}
      </div>
    </section>
  );
}

/**
 * A JSON text of the sample (the event's payload, the current state), with its hint above it and the
 * parse error below: the panel checks these itself, so they carry no rule-document path for `Field`.
 */
function SampleJsonField(props: { id: string; label: string; hint?: ComponentChildren; rows: number; value: string; error: string | null | undefined; onText: (text: string) => void }) {
  const { id, label, hint, rows, value, error, onText } = props;
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div class={`field${error ? ' field--invalid' : ''}`}>
      <label for={id} class="field__label">
        {label}
      </label>
      {hint ? (
        <p id={`${id}-hint`} class="field__hint">
          {hint}
        </p>
      ) : null}
      <JsonTextarea id={id} rows={rows} value={value} aria-invalid={error ? 'true' : undefined} aria-describedby={describedBy || undefined} onText={onText} />
      {error ? (
        <p id={`${id}-error`} class="field__error">
          {error}
        </p>
      ) : null}
    </div>
  );
}
