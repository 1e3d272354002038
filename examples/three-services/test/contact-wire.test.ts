import { describe, expect, it } from 'vitest';
import { ContactWireError, contactRequests, pageFromJson, storedPolicyFromJson, suppressionChangeFromJson, suppressionFromJson } from '../src/wire/contact-json.js';

const suppression = { accountId: 'acc_1', channel: 'sms', recipient: '+15557654321', reason: 'stop', source: 'inbound-sms', by: 'twilio', detail: 'twilio SM1', createdAt: '2026-12-01T21:00:00.000Z' };

describe('contact data on the wire between the rules and the trigger service', () => {
  it('revives dates and keeps absent fields absent', () => {
    expect(suppressionFromJson(JSON.parse(JSON.stringify(suppression)))).toEqual({ ...suppression, createdAt: new Date('2026-12-01T21:00:00.000Z') });
    const { by: _by, detail: _detail, ...bare } = suppression;
    expect(Object.keys(suppressionFromJson(bare)).sort()).toEqual(['accountId', 'channel', 'createdAt', 'reason', 'recipient', 'source']);
    const { createdAt: _createdAt, ...key } = bare;
    expect(suppressionChangeFromJson({ ...key, action: 'removed', at: '2026-12-01T21:05:00.000Z' })).toEqual({ ...key, action: 'removed', at: new Date('2026-12-01T21:05:00.000Z') });
    const policy = { accountId: 'acc_1', channels: { sms: { quietHours: { start: '21:00', end: '08:00' } } }, version: 2, updatedAt: '2026-12-01T21:00:00.000Z' };
    expect(storedPolicyFromJson(policy)).toEqual({ ...policy, updatedAt: new Date(policy.updatedAt) });
    expect(pageFromJson({ items: [suppression], nextCursor: 'c1' }, suppressionFromJson, 'suppression')).toEqual({ items: [suppressionFromJson(suppression)], nextCursor: 'c1' });
    expect(pageFromJson({ items: [] }, suppressionFromJson, 'suppression')).toEqual({ items: [] });
  });

  it('refuses answers without the shape, naming what is wrong', () => {
    expect(() => suppressionFromJson({ ...suppression, reason: 'tired' })).toThrow(ContactWireError);
    expect(() => suppressionFromJson({ ...suppression, createdAt: 'yesterday' })).toThrow(/createdAt/);
    expect(() => pageFromJson({ items: 'none' }, suppressionFromJson, 'suppression')).toThrow(/suppression page/);
    expect(() => storedPolicyFromJson({ accountId: 'acc_1', channels: {}, version: 0, updatedAt: '2026-12-01T21:00:00.000Z' })).toThrow(/version/);
  });

  it('checks the requests the trigger service takes: known reasons and sources, no extra fields', () => {
    const add = { accountId: 'acc_1', entry: { channel: 'sms', recipient: '+15557654321', reason: 'manual', source: 'api', by: 'key:1' } };
    expect(contactRequests.add.safeParse(add).success).toBe(true);
    expect(contactRequests.add.safeParse({ ...add, entry: { ...add.entry, source: 'gossip' } }).success).toBe(false);
    expect(contactRequests.add.safeParse({ ...add, entry: { ...add.entry, createdAt: '2020-01-01' } }).success).toBe(false);
    expect(contactRequests.list.safeParse({ accountId: 'acc_1', filter: { limit: 5_000 } }).success).toBe(false);
    expect(contactRequests.remove.safeParse({ accountId: 'acc_1', channel: 'sms', recipient: '+15557654321', change: { source: 'api' } }).success).toBe(true);
  });
});
