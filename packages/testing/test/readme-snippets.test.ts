import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { allSnippets, linkTargets, PROJECT_URL, readmeFiles, snippetFileName } from '../../../scripts/readme-snippets.mjs';

// Every README code block marked ```ts runnable runs as a user would run it, in a process of its own,
// and must exit 0 by itself: an example that leaves a timer or a connection open fails here.
// scripts/consumer-check.mjs type-checks every ts block against the packed packages.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
// Inside the repository (and git-ignored), so that `@crm-automation/*` resolve to the workspace's
// packages; `--conditions=source` runs their sources, so no build is needed.
const WORK_DIR = join(ROOT, '.cache', `readme-snippets-${process.pid}`);
/** Only a guard against a hang: an example takes about a second. */
const HANG_GUARD_MS = 60_000;

/** The READMEs a newcomer reads first: each must have an example that runs without servers. */
const MUST_HAVE_RUNNABLE = [
  'README.md',
  'packages/core/README.md',
  'packages/http/README.md',
  'packages/testing/README.md',
  'packages/channels/README.md',
  'packages/cli/README.md',
  'packages/metrics/README.md',
  'packages/otel/README.md',
  'packages/ui/README.md',
];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function runSnippet(file: string): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), HANG_GUARD_MS);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      done({ code, signal, output });
    });
  });
}

const snippets = allSnippets(ROOT);
const runnable = snippets.filter((s) => s.runnable);

afterAll(() => rmSync(WORK_DIR, { recursive: true, force: true }));

describe('runnable README examples', () => {
  it('are found in every README a newcomer reads first', () => {
    const withRunnable = new Set(runnable.map((s) => s.file));
    expect(MUST_HAVE_RUNNABLE.filter((file) => !withRunnable.has(file))).toEqual([]);
  });

  it.each(runnable.map((s) => [`${s.file}:${s.line}`, s] as const))('%s runs to completion and exits', async (_where, snippet) => {
    mkdirSync(WORK_DIR, { recursive: true });
    const file = join(WORK_DIR, snippetFileName(snippet));
    writeFileSync(file, snippet.code);
    const exit = await runSnippet(file);
    expect({ code: exit.code, signal: exit.signal }, exit.output).toEqual({ code: 0, signal: null });
  }, HANG_GUARD_MS + 10_000);
});

describe('README links', () => {
  // On the npm page a relative link leads nowhere: package READMEs link absolutely.
  it.each(readmeFiles(ROOT).map((file) => [file] as const))('%s links only to places that exist', (file) => {
    const markdown = readFileSync(join(ROOT, file), 'utf8');
    const problems: string[] = [];
    for (const target of linkTargets(markdown)) {
      if (target.startsWith('#') || target.startsWith('mailto:')) continue;
      const inRepo = /^https:\/\/github\.com\/crm-automation\/crm-automation\/(?:blob|tree)\/main\/([^?#]+)/.exec(target);
      if (inRepo?.[1]) {
        if (!existsSync(join(ROOT, decodeURIComponent(inRepo[1])))) problems.push(`${target}: no such file in the repository`);
        continue;
      }
      if (target.startsWith(PROJECT_URL) || /^https?:\/\//.test(target)) continue;
      if (file !== 'README.md') problems.push(`${target}: relative (broken on the npm page)`);
      else if (!existsSync(join(ROOT, target.split('#')[0] ?? ''))) problems.push(`${target}: no such file`);
    }
    expect(problems).toEqual([]);
  });
});
