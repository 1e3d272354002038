// Placeholder: the bus contract suite is being written (see the issue for the bus adapters).
export function describeBusContract(_name: string, _factory: () => unknown): void {
  throw new Error('describeBusContract is not implemented yet');
}
