import { createMemoryStore } from '@crm-automation/core';
import { describeRulesApi } from './rules-api-suite.js';

describeRulesApi('the memory store', async () => ({ store: createMemoryStore() }));
