// The TypeScript code blocks of the READMEs a newcomer reads: the root one and every package's.
// Shared by the snippet test (packages/testing/test/readme-snippets.test.ts), which runs the blocks
// marked `runnable`, and scripts/consumer-check.mjs, which type-checks all of them against the packed
// packages.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** The project's address, the only base of absolute links into the repository. */
export const PROJECT_URL = 'https://github.com/crm-automation/crm-automation';

/** README paths relative to `root`: `README.md` and `packages/<name>/README.md`. */
export function readmeFiles(root) {
  const packages = readdirSync(join(root, 'packages'))
    .map((name) => `packages/${name}/README.md`)
    .filter((file) => existsSync(join(root, file)))
    .sort();
  return ['README.md', ...packages];
}

const FENCE = /^```(\S*)(.*)$/;

/**
 * Every fenced block of one README whose language is `ts` or `typescript`. `runnable` is set by the
 * word `runnable` after the language (```` ```ts runnable ````). `line` is the fence's line (1-based).
 */
export function tsSnippets(markdown, file) {
  const snippets = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((line, j) => j > i && line.trimEnd() === '```');
    if (end === -1) throw new Error(`${file}:${i + 1}: code block is not closed`);
    const [, lang, info] = open;
    if (lang === 'ts' || lang === 'typescript') {
      snippets.push({ file, line: i + 1, runnable: /\brunnable\b/.test(info), code: lines.slice(i + 1, end).join('\n') + '\n' });
    }
    i = end;
  }
  return snippets;
}

/** The snippets of every README under `root`. */
export function allSnippets(root) {
  return readmeFiles(root).flatMap((file) => tsSnippets(readFileSync(join(root, file), 'utf8'), file));
}

/** A file name for a snippet: `packages-core-README-12.ts`. */
export function snippetFileName(snippet) {
  return `${snippet.file.replace(/\.md$/, '').replaceAll('/', '-')}-${snippet.line}.ts`;
}

/** Every link and image target of a README: `[text](target)` and `![alt](target)`. */
export function linkTargets(markdown) {
  return [...markdown.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1]);
}
