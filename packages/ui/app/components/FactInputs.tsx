import { useEditor } from './editor-context.js';
import type { ControlProps } from './Field.js';

/** datalist ids for fact and JSONPath suggestions; rendered once by the editor. */
export function factsListId(): string {
  return 'suggest-facts';
}
export function pathsListId(factIndex: number): string {
  return `suggest-paths-${factIndex}`;
}

interface TextInputProps {
  control: ControlProps;
  value: string;
  onInput: (value: string) => void;
}

/** A fact (a top-level key of the event's payload), suggested from the chosen event's sample. */
export function FactInput({ control, value, onInput }: TextInputProps) {
  return <input {...control} type="text" list={factsListId()} autocomplete="off" spellcheck={false} value={value} onInput={(e) => onInput(e.currentTarget.value)} />;
}

/** A JSONPath into `fact`, suggested from the paths the sample has under that fact. */
export function JsonPathInput({ control, fact, value, placeholder, onInput }: TextInputProps & { fact: string; placeholder: string }) {
  const factIndex = useEditor().facts.indexOf(fact);
  return (
    <input
      {...control}
      type="text"
      class="code"
      list={factIndex >= 0 ? pathsListId(factIndex) : undefined}
      autocomplete="off"
      spellcheck={false}
      placeholder={placeholder}
      value={value}
      onInput={(e) => onInput(e.currentTarget.value)}
    />
  );
}
