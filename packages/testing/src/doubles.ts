/**
 * `@crm-automation/testing/doubles`: test doubles without the vitest contract suites — a clock moved by
 * hand (`createManualClock`) and a gateway that records what it was sent (`createRecordingChannel`).
 * Safe to import from demos and scripts: it needs no test runner.
 */
export { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
export type { ManualClock, RecordingChannel, RecordingChannelOptions } from '@crm-automation/core/doubles';
