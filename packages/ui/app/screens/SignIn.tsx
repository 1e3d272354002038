import { useState } from 'preact/hooks';
import { ApiError, createApiClient } from '../api/client.js';

/** Sign in with an API key. The key is checked against the API before it is kept. */
export function SignIn({ base, onSignedIn, notice }: { base: string; onSignedIn: (key: string) => void; notice?: string | undefined }) {
  const [key, setKey] = useState('');
  const [show, setShow] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError('Enter your API key.');
      document.getElementById('api-key')?.focus();
      return;
    }
    setChecking(true);
    setError(null);
    try {
      await createApiClient({ base, apiKey: trimmed }).eventTypes();
      onSignedIn(trimmed);
    } catch (e) {
      const message =
        e instanceof ApiError && e.status === 401
          ? 'That API key was not accepted. Check it and try again.'
          : e instanceof ApiError && e.status === 403
            ? 'That API key cannot read rules (it lacks the rules:read scope).'
            : e instanceof ApiError
              ? e.message
              : 'Could not sign in. Try again.';
      setError(message);
      document.getElementById('api-key')?.focus();
    } finally {
      setChecking(false);
    }
  };

  return (
    <main class="signin" id="main">
      <div class="signin__card">
        <div class="brand brand--large" aria-hidden="true">
          <span class="brand__mark" />
          <span>Automation Builder</span>
        </div>
        <h1 tabIndex={-1}>Sign in</h1>
        <p class="muted">Use an API key of your account. It is kept in this browser tab only and forgotten when you close it.</p>
        {notice ? (
          <p class="notice notice--warning" role="status">
            {notice}
          </p>
        ) : null}
        {/* POST, so the key can never end up in a URL even if the script has not run. */}
        <form method="post" action="" onSubmit={(e) => void submit(e)} novalidate>
          <div class={`field${error ? ' field--invalid' : ''}`}>
            <label for="api-key" class="field__label">
              API key
            </label>
            <div class="input-with-button">
              <input
                id="api-key"
                name="api-key"
                type={(show ? 'text' : 'password') as 'text'}
                autocomplete="off"
                autocapitalize="off"
                spellcheck={false}
                value={key}
                aria-invalid={error ? 'true' : undefined}
                aria-describedby={error ? 'api-key-error' : 'api-key-hint'}
                onInput={(e) => setKey(e.currentTarget.value)}
              />
              <button type="button" class="button button--quiet button--small" aria-pressed={show} onClick={() => setShow((s) => !s)}>
                {show ? 'Hide' : 'Show'}
                <span class="visually-hidden"> the API key</span>
              </button>
            </div>
            <p id="api-key-hint" class="field__hint">
              Starts with <code>crm_</code>. Ask your account owner if you have none.
            </p>
            {error ? (
              <p id="api-key-error" class="field__error" role="alert">
                {error}
              </p>
            ) : null}
          </div>
          <button type="submit" class="button button--primary button--block" disabled={checking}>
            {checking ? 'Checking…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
