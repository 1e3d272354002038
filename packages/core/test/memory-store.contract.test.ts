import { describeStoreContract } from '@crm-automation/testing';
import { createMemoryStore } from '../src/index.js';

describeStoreContract('memory', () => createMemoryStore());
