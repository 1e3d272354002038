/**
 * The API reports validation problems with JSON paths such as `actions[1].params.url`,
 * `conditions.all[0].operator` or `actions[0].params.headers["X-Token"]` (core's `formatPath`).
 * The form names its fields with the same paths, so an issue finds its field by path.
 */
export type PathSegment = string | number;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Formats segments exactly like core's `formatPath`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Appends one segment to a formatted path. */
export function childPath(parent: string, segment: PathSegment): string {
  if (typeof segment === 'number') return `${parent}[${segment}]`;
  if (IDENTIFIER.test(segment)) return parent ? `${parent}.${segment}` : segment;
  return `${parent}[${JSON.stringify(segment)}]`;
}

/** Parses a formatted path back into segments; null when it is not one we could have produced. */
export function parsePath(path: string): PathSegment[] | null {
  const segments: PathSegment[] = [];
  let i = 0;
  while (i < path.length) {
    const rest = path.slice(i);
    if (rest.startsWith('[')) {
      const index = /^\[(\d+)\]/.exec(rest);
      if (index?.[1] !== undefined) {
        segments.push(Number(index[1]));
        i += index[0].length;
        continue;
      }
      const quoted = /^\[("(?:[^"\\]|\\.)*")\]/.exec(rest);
      if (quoted?.[1] === undefined) return null;
      try {
        segments.push(JSON.parse(quoted[1]) as string);
      } catch {
        return null;
      }
      i += quoted[0].length;
      continue;
    }
    const dotted = segments.length === 0 ? /^([A-Za-z_$][\w$]*)/.exec(rest) : /^\.([A-Za-z_$][\w$]*)/.exec(rest);
    if (dotted?.[1] === undefined) return null;
    segments.push(dotted[1]);
    i += dotted[0].length;
  }
  return segments;
}

/** A DOM id for the field at `path`: deterministic, and safe in `#id` selectors without escaping. */
export function fieldId(path: string): string {
  return `field-${path.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}_`)}`;
}
