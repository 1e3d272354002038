/**
 * Refusals a provider answers with, and whether each is worth retrying: the table the shared
 * classification and every HTTP gateway built on it are checked against, so they cannot drift.
 */
export const ERROR_STATUS_RETRYABILITY: ReadonlyArray<readonly [status: number, retryable: boolean]> = [
  [400, false],
  [404, false],
  [410, false],
  [422, false],
  [408, true],
  [429, true],
  [500, true],
  [502, true],
  [503, true],
];
