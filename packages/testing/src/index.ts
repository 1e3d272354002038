export * from './store-contract.js';
export * from './bus-contract.js';
export * from './channel-contract.js';
export * from './doubles.js';
export * from './delivery-ledger-contract.js';
export * from './design-doc-rules.js';
export * from './recording-logger.js';
export * from './option-typos.js';
