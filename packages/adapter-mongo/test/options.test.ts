import { describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { isAutomationError } from '@crm-automation/core';
import { parseObjectId } from '../src/documents.js';
import { guard } from '../src/guarded-update.js';
import { DEFAULT_RETENTION_MS, expireAtFor, resolveRetention } from '../src/retention.js';
import { createMongoStore } from '../src/index.js';

describe('retention policy', () => {
  it('is off unless given, and then keeps completed and skipped triggers 7 days by default', () => {
    expect(resolveRetention(undefined)).toBeUndefined();
    expect(resolveRetention(false)).toBeUndefined();
    const policy = resolveRetention({});
    expect(policy?.ages).toEqual({ completed: DEFAULT_RETENTION_MS, skipped: DEFAULT_RETENTION_MS });
    expect(policy?.mode).toBe('auto');
    const now = new Date('2030-01-01T00:00:00Z');
    expect(expireAtFor(policy, 'completed', now)).toEqual(new Date(now.getTime() + DEFAULT_RETENTION_MS));
    expect(expireAtFor(policy, 'failed', now)).toBeUndefined();
    expect(expireAtFor(undefined, 'completed', now)).toBeUndefined();
    expect(expireAtFor(resolveRetention({ failedMs: 0 }), 'failed', now)).toEqual(now);
  });

  it('refuses negative ages and bad intervals with a config error', () => {
    for (const bad of [{ completedMs: -1 }, { skippedMs: Number.NaN }, { intervalMs: 0 }, { intervalMs: 1.5 }]) {
      let error: unknown;
      try {
        resolveRetention(bad);
      } catch (e) {
        error = e;
      }
      expect(isAutomationError(error) && error.code).toBe('CRM_ERR_CONFIG');
    }
  });
});

describe('ids', () => {
  it('accepts only lowercase 24-hex ObjectIds', () => {
    expect(parseObjectId('64a5b8e8f1b2c3d4e5f6a7b1')).toEqual(new ObjectId('64a5b8e8f1b2c3d4e5f6a7b1'));
    for (const bad of ['', '64A5B8E8F1B2C3D4E5F6A7B1', '64a5b8e8f1b2c3d4e5f6a7b', 'zzzzzzzzzzzzzzzzzzzzzzzz', 42, null, { $ne: null }]) expect(parseObjectId(bad)).toBeNull();
  });
});

describe('guards', () => {
  // The same condition is a server filter on MongoDB and a predicate on FerretDB: they must agree.
  const now = new Date('2030-01-01T00:00:10Z');
  const due = guard.all<{ _id: ObjectId; status: string; evaluateAt: Date; attempt: number }>(guard.oneOf('status', ['pending', 'retrying']), guard.atOrBefore('evaluateAt', now), guard.equals('attempt', 2));
  const doc = (status: string, evaluateAt: Date, attempt: number) => ({ _id: new ObjectId(), status, evaluateAt, attempt });

  it('builds the filter MongoDB evaluates', () => {
    expect(due.filter).toEqual({ status: { $in: ['pending', 'retrying'] }, evaluateAt: { $lte: now }, attempt: 2 });
  });

  it('evaluates the same condition in memory', () => {
    expect(due.matches(doc('pending', now, 2))).toBe(true);
    expect(due.matches(doc('retrying', new Date(0), 2))).toBe(true);
    expect(due.matches(doc('processing', now, 2))).toBe(false);
    expect(due.matches(doc('pending', new Date(now.getTime() + 1), 2))).toBe(false);
    expect(due.matches(doc('pending', now, 3))).toBe(false);
  });
});

describe('createMongoStore options', () => {
  it('needs exactly one of client and uri', () => {
    expect(() => createMongoStore({})).toThrow(/client or a uri/);
  });

  it('names the database after the URI, else crm_automation, and opens no connection until used', async () => {
    const fromUri = createMongoStore({ uri: 'mongodb://127.0.0.1:1/tenant_db' });
    expect(fromUri.db.databaseName).toBe('tenant_db');
    const fallback = createMongoStore({ uri: 'mongodb://127.0.0.1:1' });
    expect(fallback.db.databaseName).toBe('crm_automation');
    expect(createMongoStore({ uri: 'mongodb://127.0.0.1:1', dbName: 'x' }).db.databaseName).toBe('x');
    await fromUri.close();
    await fallback.close();
  });
});
