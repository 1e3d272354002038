import { Writable } from 'node:stream';
import { runCli, type CliConnections, type CliIo } from '../src/index.js';

/*
 * Running the CLI in-process the way its tests do: as `crm-automation <args>`, with stdout and stderr
 * captured as text and `connect` injected (or left to the real one).
 */

/** A writable that keeps what was written, as text. */
export function textSink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { text: () => chunks.join('') });
}

/** What one CLI run wrote and its exit code. */
export interface CapturedRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `crm-automation <args>` in-process; without `connect`, the CLI opens its real connections. */
export async function runCaptured(args: readonly string[], connect?: CliIo['connect']): Promise<CapturedRun> {
  const stdout = textSink();
  const stderr = textSink();
  const code = await runCli(['node', 'crm-automation', ...args], connect === undefined ? { stdout, stderr } : { stdout, stderr, connect });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/**
 * A `connect` that hands out `connections`, or fails the command when none are given (the command
 * under test should not connect); `called` says whether the CLI asked for a connection.
 */
export function guardedConnect(connections?: CliConnections): { connect: () => CliConnections; readonly called: boolean } {
  let called = false;
  return {
    connect: () => {
      called = true;
      if (!connections) throw new Error('this command should not connect');
      return connections;
    },
    get called() {
      return called;
    },
  };
}
