import { useEffect, useState } from 'preact/hooks';
import type { ApiClient } from '../api/client.js';
import { errorText } from '../api/error-text.js';
import type { EventAccepted } from '../api/types.js';
import { formatDateTime, formatRelative } from '../format.js';
import { isJsonObject, parseJson, prettyJson, type JsonObject } from '../model/json.js';
import { publishedRunsText } from '../model/published-runs.js';
import { JsonTextarea } from '../components/FormControls.js';

interface PublishEventProps {
  api: ApiClient;
  /** The rule whose runs the screen shows: the answer says when its first run is due. */
  ruleId: string;
  eventName: string;
  sample: JsonObject | undefined;
  onPublished: () => void;
}

/** Publishes a test event through `POST /events`: the same intake as the CRM's events. */
export function PublishEvent({ api, ruleId, eventName, sample, onPublished }: PublishEventProps) {
  const [name, setName] = useState(eventName);
  const [payload, setPayload] = useState(() => prettyJson(sample ?? {}));
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<EventAccepted | null>(null);
  const [sending, setSending] = useState(false);

  useEffect(() => {
    setName(eventName);
    if (sample) setPayload(prettyJson(sample));
  }, [eventName, sample]);

  const publish = async (event: Event) => {
    event.preventDefault();
    setResult(null);
    const parsed = parseJson(payload);
    if (!parsed.ok || !isJsonObject(parsed.value)) {
      setError(parsed.ok ? 'The payload must be a JSON object.' : `The payload is not valid JSON: ${parsed.message}`);
      document.getElementById('publish-payload')?.focus();
      return;
    }
    setError(null);
    setSending(true);
    try {
      const accepted = await api.publishEvent({ name, payload: parsed.value });
      setResult(accepted);
      onPublished();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSending(false);
    }
  };

  return (
    <section class="card">
      <h2 id="publish-heading">Publish a test event</h2>
      <p class="card__intro">Goes through the same intake as your CRM's events: every matching rule of this account starts a run, and messages are really sent.</p>
      <form onSubmit={(e) => void publish(e)} method="post" action="">
        <div class="field">
          <label for="publish-name" class="field__label">
            Event name
          </label>
          <input id="publish-name" type="text" autocomplete="off" spellcheck={false} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <div class={`field${error ? ' field--invalid' : ''}`}>
          <label for="publish-payload" class="field__label">
            Payload (JSON)
          </label>
          <JsonTextarea id="publish-payload" rows={10} value={payload} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'publish-error' : undefined} onText={setPayload} />
          {error ? (
            <p id="publish-error" class="field__error">
              {error}
            </p>
          ) : null}
        </div>
        <button type="submit" class="button button--primary button--block" disabled={sending}>
          {sending ? 'Publishing…' : 'Publish event'}
        </button>
      </form>
      <div aria-live="polite">
        {result ? (
          <p class="notice notice--success">
            Event <code>{result.id}</code> accepted: {publishedRunsText(result, ruleId, (iso) => `${formatDateTime(iso)} (${formatRelative(iso)})`)}.
          </p>
        ) : null}
      </div>
    </section>
  );
}
