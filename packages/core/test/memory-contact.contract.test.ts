import { describeContactPolicyContract } from '@crm-automation/testing';
import { createMemoryStore } from '../src/entries/memory.js';

// Engines handed the same memory store share it: its handles are one state, so the 4-handle cases run on one object.
describeContactPolicyContract('memory store', () => createMemoryStore());
