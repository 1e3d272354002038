/** A load that failed, in words, with the way to ask again: the lists and the policy screen show the same. */
export function RetryNotice({ message, onRetry }: { message: string; onRetry: () => void }) {
  return (
    <div class="notice notice--danger" role="alert">
      <p>{message}</p>
      <button type="button" class="button button--secondary button--small" onClick={onRetry}>
        Try again
      </button>
    </div>
  );
}
