import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { PathIssue } from '../model/form-fields.js';
import type { JsonObject } from '../model/json.js';
import type { Placeholder } from '../model/placeholders.js';

/** What every field of the rule editor may need: its issues and the chosen event's sample. */
export interface EditorContextValue {
  issuesByField: ReadonlyMap<string, readonly PathIssue[]>;
  sample: JsonObject | undefined;
  placeholders: readonly Placeholder[];
  facts: readonly string[];
}

export const EditorContext = createContext<EditorContextValue>({ issuesByField: new Map(), sample: undefined, placeholders: [], facts: [] });

export function useEditor(): EditorContextValue {
  return useContext(EditorContext);
}

export function useFieldIssues(path: string): readonly PathIssue[] {
  return useEditor().issuesByField.get(path) ?? [];
}
