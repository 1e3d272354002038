// The error classes of the three services live together with their codes in src/service-errors.ts.
export { RuleLookupUnavailableError } from '../../service-errors.js';
