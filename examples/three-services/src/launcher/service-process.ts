import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The example package's root: entries are relative to it. */
export const EXAMPLE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServiceProcessOptions {
  /** Short name for output prefixes and errors. */
  name: string;
  /** Entry file relative to the example root, e.g. `src/rules-service/main.ts`. */
  entry: string;
  /** Added to the parent's environment. */
  env: Readonly<Record<string, string>>;
  /** Polled until it answers 200 (`/readyz`). */
  readyUrl?: string | undefined;
  /** Every output line as it comes. */
  onLine?: ((line: string, stream: 'stdout' | 'stderr') => void) | undefined;
}

/**
 * One service as a child process. It runs as `node --import tsx --conditions=source <entry>` rather
 * than through the `tsx` command, which would put a second process in between: signals (and
 * especially SIGKILL, which cannot be relayed) must reach the service itself.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<number | null> | undefined;
  /** The last output lines, for error messages. */
  readonly recent: string[] = [];

  constructor(readonly options: ServiceProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the exit code (null after a signal) once the process ends. */
  get exited(): Promise<number | null> {
    return this.exit ?? Promise.resolve(null);
  }

  /** Starts the process and waits until it is ready (or fails, with its last lines). */
  async start(readyTimeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.options.name} is already running`);
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', this.options.entry], {
      cwd: EXAMPLE_ROOT,
      // STOP_WITH_PARENT (this process's pid): the service shuts down if this process dies without stopping it.
      env: { ...process.env, ...this.options.env, STOP_WITH_PARENT: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal reaches only this parent, which then stops
      // the services one by one, in order, instead of all of them at once.
      detached: true,
    });
    this.child = child;
    this.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream] }).on('line', (line) => {
        this.recent.push(line);
        if (this.recent.length > 200) this.recent.shift();
        this.options.onLine?.(line, stream);
      });
    }
    if (this.options.readyUrl) await this.waitReady(this.options.readyUrl, readyTimeoutMs);
  }

  private async waitReady(url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (exited) throw new Error(`${this.options.name} exited during startup:\n${this.recent.slice(-30).join('\n')}`);
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (response.ok) {
          await response.body?.cancel();
          return;
        }
        last = `${response.status} ${await response.text()}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${this.options.name} not ready after ${timeoutMs} ms (${url}: ${last}):\n${this.recent.slice(-30).join('\n')}`);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `timeoutMs`; resolves with the exit code. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (!this.running || !this.child) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** SIGKILL: a crash, with no chance to clean up. */
  async kill(): Promise<void> {
    if (!this.running || !this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
