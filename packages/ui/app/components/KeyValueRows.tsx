import { childPath, fieldId } from '../model/issue-path.js';
import { newKey, type KeyValueRow } from '../model/rule-form.js';
import { useFieldIssues } from './editor-context.js';
import { FieldError } from './Field.js';
import { PlaceholderPicker } from './PlaceholderPicker.js';

interface KeyValueRowsProps {
  /** Path of the object these rows make (`actions[0].params.headers`); each row is `path.name`. */
  path: string;
  rows: KeyValueRow[];
  onChange: (rows: KeyValueRow[]) => void;
  /** "Header", "Field". */
  noun: string;
  nameLabel: string;
  valueLabel: string;
  /** Offer placeholders for values. */
  templates?: boolean;
}

/** Rows of name/value pairs: webhook headers, webhook payload fields. */
export function KeyValueRows({ path, rows, onChange, noun, nameLabel, valueLabel, templates }: KeyValueRowsProps) {
  const set = (key: string, patch: Partial<KeyValueRow>) => onChange(rows.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  return (
    <div class="kv" id={fieldId(path)} tabIndex={-1}>
      <FieldError path={path} />
      {rows.length > 0 ? (
        <ol class="kv__rows">
          {rows.map((row, i) => (
            <KeyValueRowEditor
              key={row.key}
              row={row}
              index={i}
              path={childPath(path, row.name)}
              noun={noun}
              nameLabel={nameLabel}
              valueLabel={valueLabel}
              templates={templates ?? false}
              primary={rows.findIndex((r) => r.name === row.name) === i}
              onSet={(patch) => set(row.key, patch)}
              onRemove={() => onChange(rows.filter((r) => r.key !== row.key))}
            />
          ))}
        </ol>
      ) : null}
      <button type="button" class="button button--secondary button--small" onClick={() => onChange([...rows, { key: newKey('r'), name: '', value: '' }])}>
        + {noun}
      </button>
    </div>
  );
}

function KeyValueRowEditor(props: {
  row: KeyValueRow;
  index: number;
  path: string;
  noun: string;
  nameLabel: string;
  valueLabel: string;
  templates: boolean;
  primary: boolean;
  onSet: (patch: Partial<KeyValueRow>) => void;
  onRemove: () => void;
}) {
  const { row, index, path, noun } = props;
  const id = fieldId(path);
  const issues = useFieldIssues(path);
  // The first row of a name owns the path's id (error summary links focus it); duplicates get their own.
  const nameId = props.primary ? id : `${id}-${row.key}`;
  const valueId = `${id}-${row.key}-value`;
  const errorId = `${id}-${row.key}-error`;
  const invalid = issues.length > 0 ? { 'aria-invalid': 'true' as const, 'aria-describedby': errorId } : {};
  return (
    <li class="kv__row">
      <div class="field">
        <label class="field__label" for={nameId}>
          {props.nameLabel}
          <span class="visually-hidden"> of {noun.toLowerCase()} {index + 1}</span>
        </label>
        <input id={nameId} {...invalid} type="text" autocomplete="off" spellcheck={false} value={row.name} onInput={(e) => props.onSet({ name: e.currentTarget.value })} />
      </div>
      <div class="field">
        <label class="field__label" for={valueId}>
          {props.valueLabel}
          <span class="visually-hidden"> of {noun.toLowerCase()} {index + 1}</span>
        </label>
        <input id={valueId} type="text" autocomplete="off" spellcheck={false} value={row.value} onInput={(e) => props.onSet({ value: e.currentTarget.value })} />
        {props.templates ? (
          <PlaceholderPicker targetId={valueId} targetLabel={`${props.valueLabel} of ${noun.toLowerCase()} ${index + 1}`} value={row.value} onChange={(value) => props.onSet({ value })} />
        ) : null}
      </div>
      <button type="button" class="button button--quiet button--small kv__remove" onClick={props.onRemove}>
        Remove<span class="visually-hidden"> {noun.toLowerCase()} {index + 1}</span>
      </button>
      <FieldError path={path} id={errorId} />
    </li>
  );
}
