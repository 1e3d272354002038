import type { Logger } from '@crm-automation/core';
import { logLevel, type logCreator } from 'kafkajs';

/** Routes kafkajs's own log lines to the bus logger (structured, with kafkajs's namespace). */
export function kafkaLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ source: 'kafkajs' });
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _name, ...extra } = log as { message: string; timestamp?: unknown; logger?: unknown };
      const bindings = { namespace, ...extra };
      if (level === logLevel.ERROR) kafkaLogger.error(bindings, message);
      else if (level === logLevel.WARN) kafkaLogger.warn(bindings, message);
      else if (level === logLevel.INFO) kafkaLogger.info(bindings, message);
      else kafkaLogger.debug(bindings, message);
    };
}
