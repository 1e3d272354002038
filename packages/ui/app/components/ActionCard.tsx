import type { MessageCategory } from '../api/types.js';
import { childPath, fieldId } from '../model/issue-path.js';
import { isBuiltInAction, type ActionEntry, type ActionForm, type RecipientMode } from '../model/rule-form.js';
import { Field, FieldError } from './Field.js';
import { ChoiceSelect, JsonTextarea } from './FormControls.js';
import { FactInput, JsonPathInput } from './FactInputs.js';
import { KeyValueRows } from './KeyValueRows.js';
import { PlaceholderPicker } from './PlaceholderPicker.js';

export const ACTION_LABELS: Record<string, string> = { sms: 'SMS', email: 'Email', webhook: 'Webhook' };

interface ActionCardProps {
  action: ActionEntry;
  index: number;
  count: number;
  onChange: (action: ActionEntry) => void;
  onRemove: () => void;
  onMove: (delta: -1 | 1) => void;
}

/** One action of a rule: an SMS, an email, a webhook, or a custom type edited as JSON. */
export function ActionCard({ action, index, count, onChange, onRemove, onMove }: ActionCardProps) {
  const path = childPath('actions', index);
  const title = action.kind === 'raw' ? `Action ${index + 1}` : `${index + 1}. ${ACTION_LABELS[action.type] ?? action.type}`;
  const name = action.kind === 'raw' ? `action ${index + 1}` : `action ${index + 1} (${ACTION_LABELS[action.type] ?? action.type})`;
  const headingId = `${fieldId(path)}-heading`;
  return (
    <section class="action-card" aria-labelledby={headingId} id={fieldId(path)} tabIndex={-1}>
      <header class="action-card__head">
        <h3 id={headingId} class={`action-card__title action-card__title--${action.kind === 'raw' ? 'raw' : action.type}`}>
          {title}
        </h3>
        <div class="action-card__tools">
          <button type="button" class="button button--quiet button--small" disabled={index === 0} onClick={() => onMove(-1)}>
            Up<span class="visually-hidden">: move {name} up</span>
          </button>
          <button type="button" class="button button--quiet button--small" disabled={index === count - 1} onClick={() => onMove(1)}>
            Down<span class="visually-hidden">: move {name} down</span>
          </button>
          <button type="button" class="button button--quiet button--small button--danger-text" onClick={onRemove}>
            Remove<span class="visually-hidden"> {name}</span>
          </button>
        </div>
      </header>
      <FieldError path={path} />
      <FieldError path={childPath(path, 'type')} />
      {action.kind === 'raw' ? (
        <Field path={`${path}$raw`} label="Action (JSON)" hint="This action is not in a shape the form can show; edit its JSON.">
          {(control) => <JsonTextarea {...control} rows={6} value={action.text} onText={(text) => onChange({ ...action, text })} />}
        </Field>
      ) : (
        <ActionFields action={action} path={path} onChange={onChange} />
      )}
    </section>
  );
}

function ActionFields({ action, path, onChange }: { action: ActionForm; path: string; onChange: (action: ActionForm) => void }) {
  const params = childPath(path, 'params');
  const p = (name: string) => childPath(params, name);
  const set = (patch: Partial<ActionForm>) => onChange({ ...action, ...patch });

  if (!isBuiltInAction(action.type)) {
    return (
      <>
        <CategoryField action={action} path={path} set={set} />
        <Field path={params} label="Parameters (JSON)" hint={`Parameters of the custom "${action.type}" action.`}>
          {(control) => <JsonTextarea {...control} rows={6} value={action.paramsText} onText={(paramsText) => set({ paramsText })} />}
        </Field>
      </>
    );
  }

  return (
    <div class="action-card__body">
      {/* A webhook has no person behind it: the contact policy never applies, so there is nothing to choose. */}
      {action.type !== 'webhook' || action.category !== '' ? <CategoryField action={action} path={path} set={set} /> : null}
      {action.type === 'sms' || action.type === 'email' ? <RecipientFields action={action} path={p('recipient')} set={set} /> : null}
      {action.type === 'sms' ? (
        <TemplateField path={p('message')} label="Message" multiline value={action.message} onChange={(message) => set({ message })} hint={`${action.message.length} characters. Placeholders are filled from the event.`} />
      ) : null}
      {action.type === 'email' ? (
        <>
          <TemplateField path={p('subject')} label="Subject" value={action.subject} onChange={(subject) => set({ subject })} />
          <TemplateField path={p('body')} label="Text body" multiline value={action.body} onChange={(body) => set({ body })} hint="Give a text body, an HTML body or a provider template id." />
          <TemplateField path={p('html')} label="HTML body (optional)" multiline value={action.html} onChange={(html) => set({ html })} />
          <Field path={p('templateId')} label="Provider template id (optional)">
            {(control) => <input {...control} type="text" autocomplete="off" spellcheck={false} value={action.templateId} onInput={(e) => set({ templateId: e.currentTarget.value })} />}
          </Field>
        </>
      ) : null}
      {action.type === 'webhook' ? (
        <>
          <div class="field-row">
            <Field path={p('method')} label="Method" class="field-row__narrow">
              {(control) => (
                <select {...control} value={action.method} onChange={(e) => set({ method: e.currentTarget.value })}>
                  <option value="">POST (default)</option>
                  {['PUT', 'PATCH', 'DELETE', 'GET'].map((m) => (
                    <option key={m} value={m}>
                      {m}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <TemplateField path={p('url')} label="URL" value={action.url} onChange={(url) => set({ url })} inputType="url" noPicker class="field-row__wide" />
          </div>
          <fieldset class="subsection">
            <legend>Headers</legend>
            <KeyValueRows path={p('headers')} rows={action.headers} onChange={(headers) => set({ headers })} noun="Header" nameLabel="Name" valueLabel="Value" />
          </fieldset>
          <fieldset class="subsection">
            <legend>Payload</legend>
            <div class="segmented" role="radiogroup" aria-label="Payload editor">
              {(['fields', 'json'] as const).map((mode) => (
                <label key={mode} class="segmented__option">
                  <input type="radio" name={`${fieldId(path)}-payload-mode`} value={mode} checked={action.payloadMode === mode} onChange={() => set({ payloadMode: mode })} />
                  <span>{mode === 'fields' ? 'Fields' : 'JSON'}</span>
                </label>
              ))}
            </div>
            {action.payloadMode === 'fields' ? (
              <KeyValueRows path={p('payload')} rows={action.payloadFields} onChange={(payloadFields) => set({ payloadFields })} noun="Field" nameLabel="Key" valueLabel="Value" templates />
            ) : (
              <TemplateField path={p('payload')} label="Payload (JSON; strings may use placeholders)" multiline code value={action.payloadText} onChange={(payloadText) => set({ payloadText })} />
            )}
          </fieldset>
        </>
      ) : null}
      {Object.keys(action.extraParams).length > 0 ? (
        <p class="field__hint">
          Also sent: <code>{Object.keys(action.extraParams).join(', ')}</code> (edit in the JSON view).
        </p>
      ) : null}
    </div>
  );
}

const CATEGORY_LABELS: Record<'' | MessageCategory, string> = {
  '': 'Marketing (the default)',
  marketing: 'Marketing',
  transactional: 'Transactional',
};

/** Marketing or transactional, as the contact policy reads it; left unset, the rule says nothing and the engine takes marketing. */
function CategoryField({ action, path, set }: { action: ActionForm; path: string; set: (patch: Partial<ActionForm>) => void }) {
  return (
    <Field
      path={childPath(path, 'category')}
      label="Category"
      hint="Marketing (the default, so an unlabelled promotion never goes out at night by mistake) waits out quiet hours and counts against caps; transactional skips both."
    >
      {(control) => <ChoiceSelect {...control} value={action.category} choices={['', 'marketing', 'transactional'] as const} labelOf={(c) => CATEGORY_LABELS[c]} onChoose={(category) => set({ category })} />}
    </Field>
  );
}

function RecipientFields({ action, path, set }: { action: ActionForm; path: string; set: (patch: Partial<ActionForm>) => void }) {
  const what = action.type === 'sms' ? 'number' : 'address';
  const groupName = `${fieldId(path)}-mode`;
  return (
    <fieldset class="subsection recipient" id={action.recipientMode === 'fact' ? fieldId(path) : undefined} tabIndex={action.recipientMode === 'fact' ? -1 : undefined}>
      <legend>Send to</legend>
      <div class="segmented">
        {(['literal', 'fact'] as RecipientMode[]).map((mode) => (
          <label key={mode} class="segmented__option">
            <input type="radio" name={groupName} value={mode} checked={action.recipientMode === mode} onChange={() => set({ recipientMode: mode })} />
            <span>{mode === 'literal' ? `A fixed ${what}` : `${what === 'address' ? 'An' : 'A'} ${what} from the event`}</span>
          </label>
        ))}
      </div>
      {action.recipientMode === 'literal' ? (
        <TemplateField
          path={path}
          label={action.type === 'sms' ? 'Phone number' : 'Email address'}
          hint={action.type === 'sms' ? 'E.164, like +15557654321.' : undefined}
          inputType={action.type === 'sms' ? 'tel' : 'email'}
          value={action.recipientLiteral}
          onChange={(recipientLiteral) => set({ recipientLiteral })}
          noPicker
        />
      ) : (
        <>
          <FieldError path={path} />
          <div class="field-row">
            <Field path={childPath(path, 'fact')} label="Fact" class="field-row__narrow">
              {(control) => <FactInput control={control} value={action.recipientFact} onInput={(recipientFact) => set({ recipientFact })} />}
            </Field>
            <Field path={childPath(path, 'path')} label="Field (JSONPath)" class="field-row__wide">
              {(control) => (
                <JsonPathInput control={control} fact={action.recipientFact} placeholder="$.assignedTechnician.phone" value={action.recipientPath} onInput={(recipientPath) => set({ recipientPath })} />
              )}
            </Field>
          </div>
        </>
      )}
    </fieldset>
  );
}

interface TemplateFieldProps {
  path: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  hint?: string | undefined;
  multiline?: boolean;
  code?: boolean;
  inputType?: 'text' | 'url' | 'tel' | 'email';
  noPicker?: boolean;
  class?: string;
}

/** A text field whose value is a Handlebars template, with the placeholder picker under it. */
function TemplateField({ path, label, value, onChange, hint, multiline, code, inputType = 'text', noPicker, class: className }: TemplateFieldProps) {
  const id = fieldId(path);
  return (
    <Field
      path={path}
      label={label}
      hint={hint}
      {...(className ? { class: className } : {})}
      after={noPicker ? null : <PlaceholderPicker targetId={id} targetLabel={label} value={value} onChange={onChange} />}
    >
      {(control) =>
        multiline ? (
          <textarea {...control} class={code ? 'code' : undefined} rows={code ? 8 : 3} spellcheck={!code} value={value} onInput={(e) => onChange(e.currentTarget.value)} />
        ) : (
          <input {...control} type={inputType as 'text'} autocomplete="off" spellcheck={false} value={value} onInput={(e) => onChange(e.currentTarget.value)} />
        )
      }
    </Field>
  );
}
