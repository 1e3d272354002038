import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EventBus } from '@crm-automation/core';

/**
 * Runs `script` (a TypeScript consumer, typically calling {@link runDoomedConsumer}) in a child
 * process, calls `publish` once it printed "ready", and SIGKILLs it as soon as it printed
 * "received": a consumer dying mid-handle, without a chance to ack or to leave its group politely.
 * What a bus's `crashConsumer` capability of {@link describeBusContract} needs.
 *
 * @example
 * crashConsumer: (group, publish) =>
 *   crashConsumerProcess(new URL('./doomed-consumer.ts', import.meta.url), { BROKER_URL: url, CRASH_GROUP: group }, publish),
 */
export async function crashConsumerProcess(script: URL, env: Record<string, string>, publish: () => Promise<void>, timeoutMs = 60_000): Promise<void> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', fileURLToPath(script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`doomed consumer timed out; stderr: ${stderr}`)), timeoutMs);
      let out = '';
      child.on('exit', (code) => reject(new Error(`doomed consumer exited early (${String(code)}); stderr: ${stderr}`)));
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('received')) {
          clearTimeout(timer);
          resolve();
        } else if (out.includes('ready') && !out.includes('published')) {
          out += 'published';
          publish().catch((error: unknown) => {
            clearTimeout(timer);
            reject(error instanceof Error ? error : new Error(String(error)));
          });
        }
      });
    });
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

/**
 * The consumer side of {@link crashConsumerProcess}, for the child's script: subscribes `group` on
 * `bus`, prints "ready" once consuming and "received" when the first event arrives, and never
 * finishes that handler, so the event is in flight when the process is killed.
 */
export async function runDoomedConsumer(bus: EventBus, group: string): Promise<void> {
  await bus.subscribe(
    async () => {
      process.stdout.write('received\n');
      await new Promise(() => {});
    },
    { group },
  );
  process.stdout.write('ready\n');
}

/** An environment variable the child's script cannot run without (the parent passes them in `env`). */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}
