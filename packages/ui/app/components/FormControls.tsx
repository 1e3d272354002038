/** What a form control may carry besides its value: its id and the ARIA links to its hint and errors. */
interface ControlAttributes {
  id: string;
  'aria-describedby'?: string | undefined;
  'aria-invalid'?: 'true' | undefined;
}

interface ChoiceSelectProps<T extends string> extends ControlAttributes {
  value: T;
  choices: readonly T[];
  /** The text shown for a choice; default: the choice itself. */
  labelOf?: ((choice: T) => string) | undefined;
  /** A first option worth '' with this text ("All events"), for a filter that may be left open. */
  emptyLabel?: string | undefined;
  onChoose: (choice: T) => void;
}

/**
 * A `<select>` of fixed choices. The choices are the only values it can report, so `onChoose` gets
 * the choice's own type, not a string to cast at every call.
 */
export function ChoiceSelect<T extends string>({ value, choices, labelOf, emptyLabel, onChoose, ...attributes }: ChoiceSelectProps<T>) {
  return (
    <select {...attributes} value={value} onChange={(e) => onChoose(e.currentTarget.value as T)}>
      {emptyLabel === undefined ? null : <option value="">{emptyLabel}</option>}
      {choices.map((choice) => (
        <option key={choice} value={choice}>
          {labelOf ? labelOf(choice) : choice}
        </option>
      ))}
    </select>
  );
}

interface JsonTextareaProps extends ControlAttributes {
  value: string;
  rows: number;
  /** Classes besides `code`. */
  class?: string | undefined;
  onText: (text: string) => void;
}

/** A monospace textarea for JSON the user types (no spell checking). */
export function JsonTextarea({ class: extra, onText, ...attributes }: JsonTextareaProps) {
  return <textarea {...attributes} class={extra ? `code ${extra}` : 'code'} spellcheck={false} onInput={(e) => onText(e.currentTarget.value)} />;
}

/** The values an `<input list={id}>` suggests (typing anything else stays allowed). */
export function Suggestions({ id, values }: { id: string; values: readonly string[] }) {
  return (
    <datalist id={id}>
      {values.map((value) => (
        <option key={value} value={value} />
      ))}
    </datalist>
  );
}

interface CodeInputProps extends ControlAttributes {
  value: string;
  /** The id of a {@link Suggestions} list to offer. */
  list?: string | undefined;
  placeholder?: string | undefined;
  onText: (text: string) => void;
}

/** A one-line input for a path, key or name the user types exactly (no autocomplete, no spell checking). */
export function CodeInput({ onText, ...attributes }: CodeInputProps) {
  return <input {...attributes} type="text" autocomplete="off" spellcheck={false} onInput={(e) => onText(e.currentTarget.value)} />;
}
