/** Median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function machine(): string {
  // Read lazily so importing this file has no side effects.
  return `${process.platform}/${process.arch}, Node ${process.version}`;
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
