export * from './store-contract.js';
export * from './bus-contract.js';
export * from './channel-contract.js';
