const LABELS: Record<string, string> = {
  pending: 'Pending',
  processing: 'Processing',
  retrying: 'Retrying',
  completed: 'Completed',
  skipped: 'Skipped',
  failed: 'Failed',
  cancelled: 'Cancelled',
  'retry-requested': 'Retry requested',
  superseded: 'Superseded',
};

/** A trigger status or history outcome: colour and word, never colour alone. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge--${status}`}>{LABELS[status] ?? status}</span>;
}
