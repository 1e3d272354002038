import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CLI_ERROR_CODES } from '../src/index.js';

describe('CLI error codes', () => {
  it('are each documented in the README with the same meaning', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    for (const [code, meaning] of Object.entries(CLI_ERROR_CODES)) expect(readme).toContain(`| \`${code}\` | ${meaning} |`);
  });
});
