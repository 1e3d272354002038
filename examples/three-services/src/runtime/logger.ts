import { pino, type Logger as PinoLogger } from 'pino';

/**
 * The JSON logger of one service. Every line carries `service`; the engine and adapters add
 * `accountId`, `ruleId` and `triggerId` through child loggers, so one trigger can be followed across
 * the three services by filtering on its id. Credentials are redacted wherever they appear.
 *
 * Lines are written synchronously to stdout. When stdout is gone (the launcher that read it died),
 * logging stops instead of failing: pino's asynchronous default would retry the broken pipe forever
 * while flushing at exit, and the service could not shut down.
 */
export function createServiceLogger(service: string, level: string): PinoLogger {
  const destination = pino.destination({ dest: 1, sync: true });
  destination.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['*.authorization', '*.headers.authorization', '*.token', '*.apiKey', '*.password'], censor: '[redacted]' },
    },
    destination,
  );
}
