import { pino, type Logger as PinoLogger } from 'pino';

/**
 * The JSON logger of one service. Every line carries `service`; the engine and adapters add
 * `accountId`, `ruleId` and `triggerId` through child loggers, so one trigger can be followed across
 * the three services by filtering on its id. Credentials are redacted wherever they appear.
 */
export function createServiceLogger(service: string, level: string): PinoLogger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.authorization', '*.headers.authorization', '*.token', '*.apiKey', '*.password'], censor: '[redacted]' },
  });
}
