import type { Rule } from '../api/types.js';

/** Strips what the server owns, leaving the document a user edits. */
export function documentOf(rule: Rule): Record<string, unknown> {
  const { id: _id, accountId: _account, version: _version, createdAt: _created, updatedAt: _updated, ...doc } = rule;
  return doc;
}
