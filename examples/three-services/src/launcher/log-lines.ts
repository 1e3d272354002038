/**
 * Makes the services' JSON log lines readable in a terminal:
 * `16:14:07 rules    INFO  rule created  accountId=acc_12345 ruleId=6b09…`. Lines that are not
 * JSON (the dev key banner, warnings) pass through as they are.
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 40: '\u001b[33m', 50: '\u001b[31m', 60: '\u001b[31m' };
const RESET = '\u001b[0m';
const OMIT = new Set(['level', 'time', 'service', 'pid', 'msg', 'hostname', 'component', 'instanceId']);

function show(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

export function formatLogLine(line: string, color: boolean): string {
  if (!line.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof entry['level'] === 'number' ? entry['level'] : 30;
  const time = typeof entry['time'] === 'string' ? entry['time'].slice(11, 19) : '';
  const fields = Object.entries(entry)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${show(v)}`)
    .join(' ');
  const text = `${time} ${LEVELS[level] ?? level} ${String(entry['msg'] ?? '')}${fields ? `  ${fields}` : ''}`;
  const c = COLORS[level];
  return color && c ? `${c}${text}${RESET}` : text;
}
