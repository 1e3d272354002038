import * as shared from '@crm-automation/testing';

// The adapters' services-test fixtures live once in @crm-automation/testing; the short names stay for this package's tests.
export const { ADAPTER_TEST_ACCOUNT: ACCOUNT, ADAPTER_TEST_EVENT: EVENT, dueTriggerOf: dueTrigger, immediateTechnicianRule: technicianRule, pollUntil: waitFor, DELIVERY_T0: T0, deliveryAt: at, deliveryIntent: intent } = shared;
