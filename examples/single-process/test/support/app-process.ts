import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** `npm run app` as a child process, its output collected, with a client of its Rules API. */
export interface AppProcess {
  base: string;
  output(): string;
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  exited(): Promise<number | null>;
  child: ChildProcess;
}

/**
 * Starts `src/app.ts` with `env` (or `env(base)`, for variables naming the app's own address) on top
 * of the test's environment (and a free port) and waits for
 * "listening on". Store variables the caller does not give are blanked, so the environment a services
 * run exports (MONGODB_URI, POSTGRES_URL, ...) never chooses the store behind the test's back.
 */
export async function startApp(key: string, env: Record<string, string> | ((base: string) => Record<string, string>)): Promise<AppProcess> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const extra = typeof env === 'function' ? env(base) : env;
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', 'src/app.ts'], {
    cwd: dir,
    env: { ...process.env, STORE: '', MONGODB_URI: '', POSTGRES_URL: '', REDIS_URL: '', PORT: String(port), DEV_API_KEY: key, LOG_LEVEL: 'warn', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = () => new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
  const waitForOutput = async (text: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!output.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" in the output:\n${output}`);
      if (child.exitCode !== null) throw new Error(`the app exited (${child.exitCode}):\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  await waitForOutput('listening on', 60_000);
  return { base, output: () => output, waitForOutput, api, exited, child };
}
