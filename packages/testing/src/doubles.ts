/**
 * `@crm-automation/testing/doubles`: test doubles without the vitest contract suites — a clock moved by
 * hand (`createManualClock`), a gateway that records what it was sent (`createRecordingChannel`) and a
 * logger that records what it was told (`createRecordingLogger`).
 * Safe to import from demos and scripts: it needs no test runner.
 */
export { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
export type { ManualClock, RecordingChannel, RecordingChannelOptions } from '@crm-automation/core/doubles';
export { createRecordingLogger, type LogLevel, type LogRecord, type RecordingLogger } from './recording-logger.js';
