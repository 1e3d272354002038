import { describeDeliveryLedgerContract } from '@crm-automation/testing';
import { createMemoryDeliveryLedger, createMemoryStore } from '../src/entries/memory.js';

describeDeliveryLedgerContract('memory', () => createMemoryDeliveryLedger(), { malformedIds: ['64A5B8E8F1B2C3D4E5F6A7B1'] });
describeDeliveryLedgerContract('memory store (trigger store with its ledger)', () => createMemoryStore());
