export interface ReadmeSnippet {
  /** README path relative to the repository root. */
  file: string;
  /** Line of the opening fence, 1-based. */
  line: number;
  /** Marked ```` ```ts runnable ````: the snippet test runs it. */
  runnable: boolean;
  code: string;
}
export const PROJECT_URL: string;
export function readmeFiles(root: string): string[];
export function tsSnippets(markdown: string, file: string): ReadmeSnippet[];
export function allSnippets(root: string): ReadmeSnippet[];
export function snippetFileName(snippet: ReadmeSnippet): string;
export function linkTargets(markdown: string): string[];
