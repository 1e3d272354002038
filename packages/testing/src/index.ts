export * from './store-contract.js';
export * from './bus-contract.js';
export * from './channel-contract.js';
export * from './doubles.js';
export * from './delivery-ledger-contract.js';
