import type { Logger } from '@crm-automation/core';

/** A Logger that keeps every message, to check what the bus went through (reconnects, retries). */
export function recordingLogger(): Logger & { messages: string[] } {
  const messages: string[] = [];
  const record = (_bindings: Record<string, unknown>, message?: string) => {
    if (message !== undefined) messages.push(message);
  };
  const logger: Logger & { messages: string[] } = { messages, debug: record, info: record, warn: record, error: record, child: () => logger };
  return logger;
}
