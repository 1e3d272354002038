import type { Logger } from '@crm-automation/core';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One call of a logger: its level, message and bindings (a child's bindings merged under the call's). */
export interface LogRecord {
  level: LogLevel;
  message: string | undefined;
  bindings: Record<string, unknown>;
}

/** A {@link Logger} that keeps what it is told, to check what a component went through. */
export interface RecordingLogger extends Logger {
  /** Every call, in order, from this logger and every child of it. */
  readonly records: LogRecord[];
  /** The messages alone, in order; calls without a message are left out. */
  readonly messages: string[];
  child(bindings: Record<string, unknown>): RecordingLogger;
}

/**
 * A logger for tests: implements core's `Logger` port and records every call (reconnects, retries,
 * back-off delays in the bindings). Children record into the same lists, with their bindings.
 */
export function createRecordingLogger(): RecordingLogger {
  const records: LogRecord[] = [];
  const messages: string[] = [];
  const withBindings = (inherited: Record<string, unknown>): RecordingLogger => {
    const record = (level: LogLevel) => (bindings: Record<string, unknown>, message?: string) => {
      records.push({ level, message, bindings: { ...inherited, ...bindings } });
      if (message !== undefined) messages.push(message);
    };
    return {
      records,
      messages,
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
      child: (bindings) => withBindings({ ...inherited, ...bindings }),
    };
  };
  return withBindings({});
}
