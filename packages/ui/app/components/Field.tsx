import type { ComponentChildren } from 'preact';
import { fieldId } from '../model/issue-path.js';
import { useFieldIssues } from './editor-context.js';

/** What a control needs to be labelled, described and marked invalid. */
export interface ControlProps {
  id: string;
  'aria-describedby'?: string;
  'aria-invalid'?: 'true';
}

interface FieldProps {
  /** The field's path in the rule document: its issues are shown here. */
  path: string;
  label: ComponentChildren;
  hint?: ComponentChildren;
  /** Hide the label visually (it stays for screen readers). */
  hideLabel?: boolean;
  class?: string;
  children: (control: ControlProps) => ComponentChildren;
  /** Extra content after the control (placeholder picker, sample value...). */
  after?: ComponentChildren;
}

/** A labelled control with its hint and the validation issues the API reported for its path. */
export function Field({ path, label, hint, hideLabel, class: className, children, after }: FieldProps) {
  const id = fieldId(path);
  const issues = useFieldIssues(path);
  const describedBy = [hint ? `${id}-hint` : '', issues.length > 0 ? `${id}-error` : ''].filter(Boolean).join(' ');
  const control: ControlProps = { id };
  if (describedBy) control['aria-describedby'] = describedBy;
  if (issues.length > 0) control['aria-invalid'] = 'true';
  return (
    <div class={`field${issues.length > 0 ? ' field--invalid' : ''}${className ? ` ${className}` : ''}`}>
      <label for={id} class={hideLabel ? 'visually-hidden' : 'field__label'}>
        {label}
      </label>
      {children(control)}
      {hint ? (
        <p id={`${id}-hint`} class="field__hint">
          {hint}
        </p>
      ) : null}
      <FieldError id={`${id}-error`} path={path} />
      {after}
    </div>
  );
}

/** The issues of a path, or nothing. */
export function FieldError({ path, id }: { path: string; id?: string }) {
  const issues = useFieldIssues(path);
  if (issues.length === 0) return null;
  return (
    <div class="field__error" id={id ?? `${fieldId(path)}-error`}>
      {issues.map((issue, i) => (
        <p key={i}>
          <span class="visually-hidden">Error: </span>
          {issue.message}
        </p>
      ))}
    </div>
  );
}
