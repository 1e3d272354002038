import { useEditor } from './editor-context.js';
import { formatValue } from '../format.js';

interface PlaceholderPickerProps {
  /** The id of the input or textarea to insert into. */
  targetId: string;
  /** What the target is called, for the buttons' accessible names. */
  targetLabel: string;
  value: string;
  onChange: (value: string) => void;
}

/**
 * Offers the chosen event's sample values as `{{placeholders}}`; a click inserts one at the cursor
 * of the target field (or at its end) and puts the focus back there.
 */
export function PlaceholderPicker({ targetId, targetLabel, value, onChange }: PlaceholderPickerProps) {
  const { placeholders } = useEditor();
  const insert = (template: string) => {
    const target = document.getElementById(targetId) as HTMLInputElement | HTMLTextAreaElement | null;
    const token = `{{${template}}}`;
    const start = target?.selectionStart ?? value.length;
    const end = target?.selectionEnd ?? value.length;
    onChange(value.slice(0, start) + token + value.slice(end));
    requestAnimationFrame(() => {
      if (!target) return;
      target.focus();
      const caret = start + token.length;
      target.setSelectionRange(caret, caret);
    });
  };
  return (
    <details class="placeholders">
      <summary>
        Insert a placeholder<span class="visually-hidden"> into {targetLabel}</span>
      </summary>
      {placeholders.length === 0 ? (
        <p class="placeholders__empty">Pick an event with a sample payload to see its placeholders.</p>
      ) : (
        <ul class="placeholders__list">
          {placeholders.map((p) => (
            <li key={p.template}>
              <button type="button" class="chip" onClick={() => insert(p.template)}>
                <span class="visually-hidden">Insert </span>
                <code>{`{{${p.template}}}`}</code>
              </button>
              <span class="placeholders__example">{formatValue(p.example)}</span>
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
