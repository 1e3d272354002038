// Placeholder: the store contract suite is being written (see the issue for the store adapters).
export function describeStoreContract(_name: string, _factory: () => unknown): void {
  throw new Error('describeStoreContract is not implemented yet');
}
