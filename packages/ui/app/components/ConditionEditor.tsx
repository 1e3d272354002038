import { childPath, fieldId } from '../model/issue-path.js';
import { OPERATORS, VALUE_KIND_LABELS, operatorLabel, valueKindsFor, type ValueKind } from '../model/operators.js';
import { sampleValueAt } from '../model/placeholders.js';
import { emptyCondition, emptyGroup, fitValueToOperator, type ConditionForm, type GroupForm, type GroupMode, type NodeForm } from '../model/rule-form.js';
import { formatValue } from '../format.js';
import { useEditor } from './editor-context.js';
import { FactInput, JsonPathInput } from './FactInputs.js';
import { Field, FieldError } from './Field.js';
import { JsonTextarea } from './FormControls.js';

/** Edits of the conditions tree, addressed by node key (see model/condition-tree). */
export interface TreeActions {
  update: (key: string, change: (node: NodeForm) => NodeForm) => void;
  remove: (key: string) => void;
  add: (groupKey: string, child: NodeForm) => void;
  setMode: (groupKey: string, mode: GroupMode) => void;
}

const MODE_LABELS: Record<GroupMode, string> = {
  all: 'All of these are true',
  any: 'Any of these is true',
  not: 'This is NOT true',
};

interface NodeProps {
  node: NodeForm;
  path: string;
  /** "Condition 2.1": what screen readers and remove buttons call it. */
  label: string;
  /** Its outline number ("2.1"); empty for the root. */
  number: string;
  actions: TreeActions;
  depth: number;
}

export function ConditionNode(props: NodeProps) {
  const { node } = props;
  if (node.kind === 'group') return <GroupEditor {...props} group={node} isRoot={false} />;
  if (node.kind === 'condition') return <ConditionRow {...props} condition={node} />;
  return (
    <div class="raw-node">
      <Field path={props.path} label={`${props.label} (JSON)`} hint="This part uses JSON the form cannot show field by field; edit it here.">
        {(control) => (
          <JsonTextarea {...control} rows={5} value={node.text} onText={(text) => props.actions.update(node.key, (n) => ({ ...n, text }) as NodeForm)} />
        )}
      </Field>
      <button type="button" class="button button--quiet button--small" onClick={() => props.actions.remove(node.key)}>
        Remove<span class="visually-hidden"> {props.label}</span>
      </button>
    </div>
  );
}

export function GroupEditor({ group, path, label, number, actions, depth, isRoot }: Omit<NodeProps, 'node'> & { group: GroupForm; isRoot: boolean }) {
  const { facts } = useEditor();
  const listPath = group.mode === 'not' ? path : childPath(path, group.mode);
  const childPathOf = (i: number) => (group.mode === 'not' ? childPath(path, 'not') : childPath(listPath, i));
  const canAdd = group.mode !== 'not' || group.children.length === 0;
  const numberOf = (i: number) => (number ? `${number}.${i + 1}` : String(i + 1));
  return (
    <fieldset class={`group group--${group.mode}${isRoot ? ' group--root' : ''}`} data-depth={depth} data-key={group.key}>
      <legend class="visually-hidden">{label}</legend>
      <div class="group__head">
        <Field path={path} label={isRoot ? 'Run the actions when' : `${label}: match when`} class="group__mode">
          {(control) => (
            <select {...control} value={group.mode} onChange={(e) => actions.setMode(group.key, e.currentTarget.value as GroupMode)}>
              {(['all', 'any', 'not'] as const).map((mode) => (
                <option key={mode} value={mode}>
                  {MODE_LABELS[mode]}
                </option>
              ))}
            </select>
          )}
        </Field>
        {!isRoot ? (
          <button type="button" class="button button--quiet button--small" onClick={() => actions.remove(group.key)}>
            Remove group<span class="visually-hidden"> {label}</span>
          </button>
        ) : null}
      </div>
      {group.children.length === 0 ? (
        <p class="group__empty">{isRoot ? 'No conditions: the rule runs for every event of its type.' : 'This group has no conditions yet.'}</p>
      ) : (
        <ol class="group__children">
          {group.children.map((child, i) => (
            <li key={child.key}>
              <ConditionNode node={child} path={childPathOf(i)} label={`${child.kind === 'group' ? 'Group' : 'Condition'} ${numberOf(i)}`} number={numberOf(i)} actions={actions} depth={depth + 1} />
            </li>
          ))}
        </ol>
      )}
      {canAdd ? (
        <div class="group__foot">
          <button type="button" class="button button--secondary button--small" onClick={() => actions.add(group.key, emptyCondition(facts[0] ?? 'job'))}>
            + Condition{isRoot ? null : <span class="visually-hidden"> in {label}</span>}
          </button>
          {depth < 6 ? (
            <button type="button" class="button button--secondary button--small" onClick={() => actions.add(group.key, emptyGroup('any', [emptyCondition(facts[0] ?? 'job')]))}>
              + Group{isRoot ? null : <span class="visually-hidden"> in {label}</span>}
            </button>
          ) : null}
        </div>
      ) : null}
    </fieldset>
  );
}

function ConditionRow({ condition, path, label, actions }: NodeProps & { condition: ConditionForm }) {
  const { sample } = useEditor();
  const set = (patch: Partial<ConditionForm>) => actions.update(condition.key, (n) => ({ ...(n as ConditionForm), ...patch }));
  const kinds = valueKindsFor(condition.operator);
  const kindOptions: ValueKind[] = kinds.includes(condition.valueKind) ? [...kinds] : [...kinds, condition.valueKind];
  const known = OPERATORS.some((o) => o.name === condition.operator);
  const seen = sampleValueAt(sample, condition.fact, condition.path);
  const valuePath = childPath(path, 'value');

  return (
    <fieldset class="condition" id={fieldId(path)} tabIndex={-1} data-key={condition.key}>
      <legend class="condition__legend">{label}</legend>
      <div class="condition__grid">
        <Field path={childPath(path, 'fact')} label="Fact" class="condition__fact">
          {(control) => (
            <FactInput control={control} value={condition.fact} onInput={(fact) => set({ fact })} />
          )}
        </Field>
        <Field
          path={childPath(path, 'path')}
          label="Field (JSONPath)"
          class="condition__path"
          hint={seen === undefined ? undefined : <>Sample: <code>{formatValue(seen)}</code></>}
        >
          {(control) => <JsonPathInput control={control} fact={condition.fact} placeholder="$.status" value={condition.path} onInput={(path) => set({ path })} />}
        </Field>
        <Field path={childPath(path, 'operator')} label="Operator" class="condition__operator">
          {(control) => (
            <select {...control} value={condition.operator} onChange={(e) => actions.update(condition.key, (n) => fitValueToOperator({ ...(n as ConditionForm), operator: e.currentTarget.value }))}>
              {OPERATORS.map((o) => (
                <option key={o.name} value={o.name}>
                  {operatorLabel(o.name)}
                </option>
              ))}
              {known ? null : <option value={condition.operator}>{condition.operator} (not a built-in operator)</option>}
            </select>
          )}
        </Field>
        <Field path={`${valuePath}$kind`} label="Value type" class="condition__kind">
          {(control) => (
            <select {...control} value={condition.valueKind} onChange={(e) => set({ valueKind: e.currentTarget.value as ValueKind })}>
              {kindOptions.map((kind) => (
                <option key={kind} value={kind}>
                  {VALUE_KIND_LABELS[kind]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <ValueInput condition={condition} path={valuePath} set={set} />
      </div>
      <button type="button" class="button button--quiet button--small condition__remove" onClick={() => actions.remove(condition.key)}>
        Remove<span class="visually-hidden"> {label}</span>
      </button>
    </fieldset>
  );
}

function ValueInput({ condition, path, set }: { condition: ConditionForm; path: string; set: (patch: Partial<ConditionForm>) => void }) {
  switch (condition.valueKind) {
    case 'null':
      return (
        <div class="field condition__value" id={fieldId(path)} tabIndex={-1}>
          <span class="field__label">Value</span>
          <p class="condition__null">null (no value)</p>
          <FieldError path={path} />
        </div>
      );
    case 'boolean':
      return (
        <Field path={path} label="Value" class="condition__value">
          {(control) => (
            <select {...control} value={String(condition.valueBool)} onChange={(e) => set({ valueBool: e.currentTarget.value === 'true' })}>
              <option value="true">true</option>
              <option value="false">false</option>
            </select>
          )}
        </Field>
      );
    case 'list':
      return (
        <div class="condition__value condition__value--wide">
          <Field path={path} label="Values, one per line">
            {(control) => <textarea {...control} rows={3} value={condition.valueText} onInput={(e) => set({ valueText: e.currentTarget.value })} />}
          </Field>
          <Field path={`${path}$items`} label="Items are">
            {(control) => (
              <select {...control} value={condition.listItemKind} onChange={(e) => set({ listItemKind: e.currentTarget.value === 'number' ? 'number' : 'string' })}>
                <option value="string">Text</option>
                <option value="number">Numbers</option>
              </select>
            )}
          </Field>
        </div>
      );
    case 'json':
      return (
        <Field path={path} label="Value (JSON)" class="condition__value condition__value--wide">
          {(control) => <JsonTextarea {...control} rows={3} value={condition.valueText} onText={(valueText) => set({ valueText })} />}
        </Field>
      );
    case 'number':
      return (
        <Field path={path} label="Value" class="condition__value">
          {(control) => <input {...control} type="text" inputMode="decimal" autocomplete="off" value={condition.valueText} onInput={(e) => set({ valueText: e.currentTarget.value })} />}
        </Field>
      );
    case 'string':
      return (
        <Field path={path} label="Value" class="condition__value">
          {(control) => <input {...control} type="text" autocomplete="off" value={condition.valueText} onInput={(e) => set({ valueText: e.currentTarget.value })} />}
        </Field>
      );
  }
}
