// The adapters' shared services-test fixtures live in @crm-automation/testing; this module keeps the
// short names the tests of this package import.
export {
  ADAPTER_TEST_ACCOUNT as ACCOUNT,
  ADAPTER_TEST_EVENT as EVENT,
  dueTriggerOf as dueTrigger,
  immediateTechnicianRule as technicianRule,
  pollUntil as waitFor,
} from '@crm-automation/testing';
