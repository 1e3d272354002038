// The shape rules of the repository's source that a reviewer would otherwise check by hand: a source
// file over 300 lines opens with a comment saying why it stays whole.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const MAX_LINES = 300;

/** Source files git tracks under packages/ and examples/ (tests, generated types and configs excluded). */
function sourceFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--', 'packages', 'examples'], { cwd: root, encoding: 'utf8' }).split('\0');
  return listed.filter(
    (path) =>
      /\.(ts|tsx|mts|cts)$/.test(path) &&
      /\/(src|app)\//.test(path) &&
      !/\.d\.ts$/.test(path) &&
      !/\/test\//.test(path) &&
      // Generated from the OpenAPI document the server serves; its generator writes the header.
      !/packages\/ui\/app\/api-types\.ts$/.test(path),
  );
}

describe('source files', () => {
  const files = sourceFiles();

  it('are found (the check reads the tree)', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it(`over ${MAX_LINES} lines open with a comment saying why they stay whole`, () => {
    const offenders: string[] = [];
    for (const path of files) {
      const text = readFileSync(new URL(path, root), 'utf8');
      const lines = text.split('\n').length;
      if (lines <= MAX_LINES) continue;
      if (!/^(\/\/|\/\*)/.test(text)) offenders.push(`${path} (${lines} lines)`);
    }
    expect(offenders).toEqual([]);
  });
});
