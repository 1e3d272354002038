import cliProgress from 'cli-progress';
import { checkOptions, optionKeys } from '@crm-automation/core';
import { checkOptionShapes, type OptionShape } from '@crm-automation/core/spi';

/** Progress of one long operation: `tick()` after each item, `done()` at the end. */
export interface Progress {
  tick(count?: number): void;
  done(): void;
}

/**
 * Where commands report: results to `out` (stdout), diagnostics to `err` (stderr), and progress
 * of long work. Commands never touch `process` themselves, so tests hand them a recording output.
 */
export interface Output {
  /** True when the user asked for `--json`: results are printed as one JSON document. */
  readonly json: boolean;
  out(text: string): void;
  err(text: string): void;
  /** Starts a progress bar for `total` items (`label` says what is being done). */
  progress(label: string, total: number): Progress;
}

const CONSOLE_OUTPUT_OPTION_KEYS = optionKeys<ConsoleOutputOptions>()('json', 'stdout', 'stderr');

const silentProgress: Progress = { tick() {}, done() {} };

export interface ConsoleOutputOptions {
  json?: boolean | undefined;
  stdout?: NodeJS.WritableStream | undefined;
  stderr?: (NodeJS.WritableStream & { isTTY?: boolean | undefined }) | undefined;
}

// A stream without write, or `json: 'yes'`, would fail at the first line (or print the wrong format).
const OUTPUT_OPTION_SHAPES: Readonly<Partial<Record<keyof ConsoleOutputOptions, OptionShape>>> = {
  json: { kind: 'boolean', what: 'true or false' },
  stdout: { kind: 'port', what: 'a writable stream', methods: ['write'] },
  stderr: { kind: 'port', what: 'a writable stream', methods: ['write'] },
};

/**
 * The terminal output of the CLI. Progress bars go to stderr and only when it is a terminal and the
 * output is not JSON, so piped and scripted runs get clean output.
 */
export function createConsoleOutput(options: ConsoleOutputOptions = {}): Output {
  checkOptions('createConsoleOutput', options, CONSOLE_OUTPUT_OPTION_KEYS);
  checkOptionShapes('createConsoleOutput', options, OUTPUT_OPTION_SHAPES);
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const json = options.json ?? false;
  return {
    json,
    out: (text) => void stdout.write(`${text}\n`),
    err: (text) => void stderr.write(`${text}\n`),
    progress(label, total) {
      if (json || !stderr.isTTY || total <= 1) return silentProgress;
      const bar = new cliProgress.SingleBar(
        { stream: stderr, format: `${label} [{bar}] {value}/{total} {percentage}% | eta {eta_formatted}`, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
      return {
        tick: (count = 1) => bar.increment(count),
        done: () => bar.stop(),
      };
    },
  };
}

/** Output for tests and embedding: keeps every line and progress call. */
export interface RecordingOutput extends Output {
  readonly stdout: string[];
  readonly stderr: string[];
  readonly progressLog: Array<{ label: string; total: number; ticks: number; done: boolean }>;
}

export function createRecordingOutput(options: { json?: boolean | undefined } = {}): RecordingOutput {
  checkOptions('createRecordingOutput', options, ['json']);
  checkOptionShapes('createRecordingOutput', options, OUTPUT_OPTION_SHAPES);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const progressLog: RecordingOutput['progressLog'] = [];
  return {
    json: options.json ?? false,
    stdout,
    stderr,
    progressLog,
    out: (text) => void stdout.push(text),
    err: (text) => void stderr.push(text),
    progress(label, total) {
      const entry = { label, total, ticks: 0, done: false };
      progressLog.push(entry);
      return {
        tick: (count = 1) => void (entry.ticks += count),
        done: () => void (entry.done = true),
      };
    },
  };
}
