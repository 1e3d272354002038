import { describeRuleStoreContract, describeStoreContract, describeTriggerStoreContract } from '@crm-automation/testing';
import { createMemoryRuleStore, createMemoryStore, createMemoryTriggerStore } from '../src/index.js';

// Ids the memory stores issue are 24 lower-case hex characters; these have the shape but not the form.
const malformedIds = ['64A5B8E8F1B2C3D4E5F6A7B1', '64a5b8e8f1b2c3d4e5f6a7b1ff', 'zzzzzzzzzzzzzzzzzzzzzzzz'];

describeStoreContract('memory (both aggregates)', () => createMemoryStore(), { malformedIds });
describeRuleStoreContract('memory', () => createMemoryRuleStore(), { malformedIds });
describeTriggerStoreContract('memory', () => createMemoryTriggerStore(), { malformedIds });
