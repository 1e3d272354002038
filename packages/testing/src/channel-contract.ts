// Placeholder: the channel contract suite is being written (see the issue for the channel adapters).
export function describeChannelContract(_name: string, _factory: () => unknown): void {
  throw new Error('describeChannelContract is not implemented yet');
}
