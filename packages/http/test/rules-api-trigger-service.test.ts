import { createMemoryStore } from '@crm-automation/core';
import { describeRulesApi } from './rules-api-suite.js';

// The whole Rules API suite with the triggers behind a trigger service, over real HTTP.
describeRulesApi('the memory store', async () => ({ store: createMemoryStore() }), 'trigger-service');
