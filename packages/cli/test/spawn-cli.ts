import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/crm-automation.js', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `crm-automation` binary in a child process: node on bin/crm-automation.js, with tsx
 * and the `source` condition so it runs the package sources (no build needed).
 */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--conditions=source', bin, ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        if (code === null) return reject(new Error(`crm-automation ${args.join(' ')} did not exit normally: ${error?.message ?? ''}\n${stderr}`));
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs the CLI with `--json`, expects exit code 0 and returns the parsed output. */
export async function spawnCliJson<T = unknown>(args: readonly string[], env: Record<string, string> = {}): Promise<T> {
  const run = await spawnCli([...args, '--json'], env);
  if (run.code !== 0) throw new Error(`crm-automation ${args.join(' ')} exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
