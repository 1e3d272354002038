import { DELAY_UNITS } from '../model/delay-units.js';
import {
  emptyCancelOn,
  emptyEvaluateRow,
  needsEntityKey,
  type CancelOnForm,
  type ConcurrencyMode,
  type EntityForm,
  type EvaluateMode,
  type EvaluateRow,
  type FactEvaluation,
} from '../model/entity-form.js';
import { childPath, fieldId } from '../model/issue-path.js';
import { useEditor } from './editor-context.js';
import { factsListId } from './FactInputs.js';
import { Field, FieldError } from './Field.js';
import { ChoiceSelect, CodeInput, JsonTextarea, Suggestions } from './FormControls.js';

/** What the concurrency choice says to a person; `''` is a rule that leaves it out (the default). */
export const CONCURRENCY_LABELS: Record<'' | ConcurrencyMode, string> = {
  '': 'Start a run for every event (default)',
  all: 'Start a run for every event',
  supersede: 'Replace the waiting run: wait again from the newest event (debounce)',
  skipIfPending: 'Keep the waiting run: the new event starts nothing',
};

export const EVALUATE_LABELS: Record<EvaluateMode, string> = {
  '': 'As the event had them (default)',
  event: 'As the event had them',
  current: 'As they are when the run fires, for every fact',
  perFact: 'Choose fact by fact',
};

const ENTITY_PATHS_LIST = 'entity-paths';

interface EntitySectionProps {
  entity: EntityForm;
  /** Event names to offer for cancel events. */
  eventNames: readonly string[];
  onChange: (entity: EntityForm) => void;
}

/**
 * The entity a rule's runs are about and what happens to them: the entity key, the events that cancel
 * a run, what a new event does while a run waits, and which facts are read when it fires.
 */
export function EntitySection({ entity, eventNames, onChange }: EntitySectionProps) {
  const { placeholders, facts } = useEditor();
  const set = (patch: Partial<EntityForm>) => onChange({ ...entity, ...patch });
  const setCancel = (index: number, patch: Partial<CancelOnForm>) => set({ cancelOn: entity.cancelOn.map((c, i) => (i === index ? { ...c, ...patch } : c)) });
  const setRow = (index: number, patch: Partial<EvaluateRow>) => set({ evaluateFacts: entity.evaluateFacts.map((r, i) => (i === index ? { ...r, ...patch } : r)) });
  const focusLater = (selector: string) => requestAnimationFrame(() => document.querySelector<HTMLElement>(selector)?.focus());
  // Whole-payload paths (`$.job.id`) from the sample: an entity key names one value of the event.
  const payloadPaths = placeholders.map((p) => `$.${p.fact}${p.jsonPath.slice(1)}`);
  const keyMissing = needsEntityKey(entity);

  return (
    <section class="card" aria-labelledby="entity-heading" id={fieldId('cancelOn')} tabIndex={-1}>
      <h2 id="entity-heading">Entity</h2>
      <p class="card__intro">
        Name what the event is about (a job, an appointment) to cancel its runs on a later event, to keep one waiting run per entity, or to check it as it is when the run fires.
      </p>
      <Suggestions id={ENTITY_PATHS_LIST} values={payloadPaths} />
      <Field
        path="trigger.key"
        label="Entity key (optional)"
        hint={keyMissing ? 'Cancel events and replacing or keeping a waiting run need an entity key.' : 'A JSONPath to one value of the event, like $.job.id. Each run remembers it; runs are listed by it.'}
      >
        {(control) => (
          <CodeInput {...control} list={ENTITY_PATHS_LIST} placeholder="$.job.id" value={entity.entityKey} onText={(entityKey) => set({ entityKey })} />
        )}
      </Field>

      <div class="field-row">
        <Field path="concurrency.mode" label="When a run for the same entity is already waiting" class="field-row__wide">
          {(control) => (
            <ChoiceSelect
              {...control}
              value={entity.concurrencyMode}
              choices={['', 'supersede', 'skipIfPending', ...(entity.concurrencyMode === 'all' ? ['all' as const] : [])] as const}
              labelOf={(mode) => CONCURRENCY_LABELS[mode]}
              onChoose={(concurrencyMode) => set({ concurrencyMode })}
            />
          )}
        </Field>
      </div>
      {entity.concurrencyMode === 'supersede' ? (
        <div class="field-row">
          <Field path="concurrency.maxWait" label="Longest wait (optional)" class="field-row__narrow" hint="Never later than this after the first event, however many follow. At least the rule's wait.">
            {(control) => <input {...control} type="text" inputMode="numeric" autocomplete="off" value={entity.maxWaitValue} onInput={(e) => set({ maxWaitValue: e.currentTarget.value })} />}
          </Field>
          <Field path="concurrency.maxWait.unit" label="Unit" class="field-row__narrow">
            {(control) => <ChoiceSelect {...control} value={entity.maxWaitUnit} choices={DELAY_UNITS} onChoose={(maxWaitUnit) => set({ maxWaitUnit })} />}
          </Field>
        </div>
      ) : null}
      <FieldError path="concurrency.maxWait.value" />

      <h3 class="card__subheading">Cancel on</h3>
      <FieldError path="cancelOn" />
      {entity.cancelOn.length === 0 ? <p class="muted">No cancel events: a run goes ahead whatever happens to its entity meanwhile.</p> : null}
      <ol class="cancel-list">
        {entity.cancelOn.map((entry, i) => {
          const path = childPath('cancelOn', i);
          return (
            <li key={entry.key} class="cancel-entry" id={fieldId(path)} tabIndex={-1}>
              <FieldError path={path} />
              <Field path={childPath(path, 'eventName')} label={`Cancel event ${i + 1}`} hint="A later event of this name for the same entity cancels its waiting and retrying runs.">
                {(control) => (
                  <input
                    {...control}
                    type="text"
                    autocomplete="off"
                    spellcheck={false}
                    list="entity-event-names"
                    value={entry.eventName}
                    onInput={(e) => setCancel(i, { eventName: e.currentTarget.value })}
                  />
                )}
              </Field>
              <Field path={childPath(path, 'conditions')} label="Only if (conditions JSON, optional)" hint='Over the cancelling event, like { "all": [{ "fact": "appointment", "path": "$.status", "operator": "equal", "value": "Cancelled" }] }.'>
                {(control) => <JsonTextarea {...control} rows={3} value={entry.conditionsText} onText={(conditionsText) => setCancel(i, { conditionsText })} />}
              </Field>
              <Field path={childPath(path, 'key')} label="Entity key in this event (optional)" hint="Leave empty when the event carries it where the rule's own entity key says.">
                {(control) => (
                  <CodeInput {...control} list={ENTITY_PATHS_LIST} placeholder={entity.entityKey || '$.job.id'} value={entry.entityPath} onText={(entityPath) => setCancel(i, { entityPath })} />
                )}
              </Field>
              <button
                type="button"
                class="button button--quiet button--small button--danger-text"
                onClick={() => {
                  set({ cancelOn: entity.cancelOn.filter((_, j) => j !== i) });
                  focusLater(`#${fieldId('cancelOn')}`);
                }}
              >
                Remove<span class="visually-hidden"> cancel event {i + 1}</span>
              </button>
            </li>
          );
        })}
      </ol>
      <Suggestions id="entity-event-names" values={eventNames} />
      <button
        type="button"
        class="button button--secondary"
        onClick={() => {
          set({ cancelOn: [...entity.cancelOn, emptyCancelOn()] });
          focusLater(`#${fieldId(childPath(childPath('cancelOn', entity.cancelOn.length), 'eventName'))}`);
        }}
      >
        + Cancel event
      </button>

      <h3 class="card__subheading">Facts read when the run fires</h3>
      <Field path="evaluate" label="Conditions and messages see the facts" hint="Current state comes from the engine's facts loaders; an entity that is gone skips the run.">
        {(control) => (
          <ChoiceSelect
            {...control}
            value={entity.evaluateMode}
            choices={['', 'current', 'perFact', ...(entity.evaluateMode === 'event' ? ['event' as const] : [])] as const}
            labelOf={(mode) => EVALUATE_LABELS[mode]}
            onChoose={(evaluateMode) => set({ evaluateMode, evaluateFacts: evaluateMode === 'perFact' && entity.evaluateFacts.length === 0 ? [emptyEvaluateRow(facts[0] ?? '')] : entity.evaluateFacts })}
          />
        )}
      </Field>
      {entity.evaluateMode === 'perFact' ? (
        <ul class="evaluate-list">
          {entity.evaluateFacts.map((row, i) => (
            <li key={row.key} class="field-row">
              <Field path={childPath(childPath('evaluate', i), 'fact')} label={`Fact ${i + 1}`} class="field-row__narrow">
                {(control) => <input {...control} type="text" autocomplete="off" spellcheck={false} list={factsListId()} value={row.fact} onInput={(e) => setRow(i, { fact: e.currentTarget.value })} />}
              </Field>
              <Field path={row.fact === '' ? `evaluate[${i}]$mode` : childPath('evaluate', row.fact)} label="Read" class="field-row__narrow">
                {(control) => (
                  <select {...control} value={row.mode} onChange={(e) => setRow(i, { mode: e.currentTarget.value as FactEvaluation })}>
                    <option value="current">when the run fires</option>
                    <option value="event">from the event</option>
                  </select>
                )}
              </Field>
              <button type="button" class="button button--quiet button--small button--danger-text" onClick={() => set({ evaluateFacts: entity.evaluateFacts.filter((_, j) => j !== i) })}>
                Remove<span class="visually-hidden"> fact {i + 1}</span>
              </button>
            </li>
          ))}
          <li>
            <button type="button" class="button button--secondary button--small" onClick={() => set({ evaluateFacts: [...entity.evaluateFacts, emptyEvaluateRow()] })}>
              + Fact
            </button>
          </li>
        </ul>
      ) : null}
    </section>
  );
}
