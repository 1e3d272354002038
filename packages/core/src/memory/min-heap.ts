import { AutomationError } from '../errors.js';

/** A binary min-heap of (time, id) pairs; stale entries are skipped by the caller (lazy deletion). */
export class TimeHeap {
  private times: number[] = [];
  private ids: string[] = [];

  get size(): number {
    return this.times.length;
  }

  push(time: number, id: string): void {
    // A NaN would compare false both ways and silently break the heap order for every other entry.
    // Callers check their dates first; this is the last guard, typed like theirs.
    if (!Number.isFinite(time)) throw new AutomationError('CRM_ERR_CONFIG', `a due time must be a valid date, got ${time}`);
    this.times.push(time);
    this.ids.push(id);
    let i = this.times.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.times[parent] as number) <= time) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  peekTime(): number | undefined {
    return this.times[0];
  }

  peekId(): string | undefined {
    return this.ids[0];
  }

  pop(): void {
    const last = this.times.length - 1;
    if (last < 0) return;
    this.swap(0, last);
    this.times.pop();
    this.ids.pop();
    let i = 0;
    const n = this.times.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < n && (this.times[l] as number) < (this.times[smallest] as number)) smallest = l;
      if (r < n && (this.times[r] as number) < (this.times[smallest] as number)) smallest = r;
      if (smallest === i) break;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const t = this.times[a] as number;
    this.times[a] = this.times[b] as number;
    this.times[b] = t;
    const id = this.ids[a] as string;
    this.ids[a] = this.ids[b] as string;
    this.ids[b] = id;
  }
}
