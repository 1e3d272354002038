// One file: the suppressions screen (the list, look-up, add, lift, the audit trail and its CSV export)
// works on one list, and its parts refresh each other.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import { errorText } from '../api/error-text.js';
import type { Suppression, SuppressionChange, SuppressionLookup } from '../api/types.js';
import { ChoiceSelect } from '../components/FormControls.js';
import { formatDateTime, pluralize } from '../format.js';
import { changesCsvName, suppressionChangeText, suppressionText } from '../model/contact-outcome.js';

const CHANNELS = ['sms', 'email'] as const;
type Channel = (typeof CHANNELS)[number];
const CHANNEL_LABELS: Record<Channel, string> = { sms: 'SMS', email: 'Email' };
const recipientHint = (channel: Channel) => (channel === 'sms' ? 'A phone number in E.164, like +15557654321.' : 'An email address; case does not matter.');

/** Who must not be contacted: the list per channel, look up, add or lift an entry, and every change for an audit. */
export function Suppressions({ api, announce }: { api: ApiClient; announce: (message: string) => void }) {
  const [channel, setChannel] = useState<'' | Channel>('');
  const [items, setItems] = useState<Suppression[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [rowError, setRowError] = useState<Record<string, string>>({});
  const [refresh, setRefresh] = useState(0);

  const load = async (more = false) => {
    setLoading(true);
    setError(null);
    try {
      const page = await api.listSuppressions({ channel: channel || undefined, ...(more && cursor ? { cursor } : {}) });
      setItems((prev) => (more ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- reload when the channel filter changes or an entry changed
  }, [channel, refresh]);

  const changed = () => setRefresh((n) => n + 1);
  const rowKey = (s: Pick<Suppression, 'channel' | 'recipient'>) => `${s.channel}|${s.recipient}`;

  const remove = async (entry: Suppression) => {
    const key = rowKey(entry);
    if (!window.confirm(`Lift the suppression of ${entry.recipient} (${entry.channel})? Their marketing and transactional messages go out again.`)) return;
    try {
      const { removed } = await api.removeSuppression(entry.channel, entry.recipient, { reason: 'manual', detail: 'lifted in the Management UI' });
      announce(removed ? `${entry.recipient} can be contacted again on ${entry.channel}.` : `${entry.recipient} was no longer suppressed.`);
      changed();
    } catch (e) {
      setRowError((r) => ({ ...r, [key]: errorText(e) }));
    }
  };

  return (
    <div class="page">
      <div class="page-head">
        <div class="page-head__title">
          <h1 tabIndex={-1}>Suppressions</h1>
          <p class="muted">
            Recipients who replied STOP, bounced, unsubscribed or were added by hand get nothing on that channel, marketing or transactional. Lifting an entry is what a START reply does.
          </p>
        </div>
      </div>

      <div class="suppression-tools">
        <LookupForm api={api} onChanged={changed} announce={announce} />
        <AddForm api={api} onChanged={changed} announce={announce} />
      </div>

      <section class="card" aria-labelledby="suppression-list-title">
        <h2 id="suppression-list-title">The list</h2>
        <form class="filters" role="search" aria-label="Filter suppressions" onSubmit={(e) => e.preventDefault()}>
          <div class="field">
            <label for="suppression-channel-filter" class="field__label">
              Channel
            </label>
            <ChoiceSelect id="suppression-channel-filter" value={channel} choices={CHANNELS} labelOf={(c) => (c === '' ? 'All channels' : CHANNEL_LABELS[c])} emptyLabel="All channels" onChoose={setChannel} />
          </div>
        </form>
        {error ? (
          <div class="notice notice--danger" role="alert">
            <p>{error}</p>
            <button type="button" class="button button--secondary button--small" onClick={() => void load()}>
              Try again
            </button>
          </div>
        ) : null}
        <p class="list-count" role="status">
          {loading && items.length === 0 ? 'Loading suppressions…' : `${pluralize(items.length, 'suppressed recipient')}${cursor ? ' shown (more below)' : ''}, newest first`}
        </p>
        {items.length > 0 ? (
          <div class="table-scroll">
            <table class="data-table">
              <thead>
                <tr>
                  <th scope="col">Recipient</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Why</th>
                  <th scope="col">Since</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((s) => (
                  <tr key={rowKey(s)}>
                    <td>
                      <code>{s.recipient}</code>
                    </td>
                    <td>{CHANNEL_LABELS[s.channel as Channel] ?? s.channel}</td>
                    <td>
                      {suppressionText(s)}
                      {s.detail ? <span class="muted"> · {s.detail}</span> : null}
                      {rowError[rowKey(s)] ? (
                        <p class="field__error" role="alert">
                          {rowError[rowKey(s)]}
                        </p>
                      ) : null}
                    </td>
                    <td>
                      <time dateTime={s.createdAt}>{formatDateTime(s.createdAt)}</time>
                    </td>
                    <td>
                      <button type="button" class="button button--quiet button--small button--danger-text" onClick={() => void remove(s)}>
                        Lift<span class="visually-hidden"> the suppression of {s.recipient}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {cursor ? (
          <button type="button" class="button button--secondary" onClick={() => void load(true)} disabled={loading}>
            {loading ? 'Loading…' : 'Load more'}
          </button>
        ) : null}
      </section>

      <ChangesSection api={api} channel={channel} refresh={refresh} />
    </div>
  );
}

function LookupForm({ api, onChanged, announce }: { api: ApiClient; onChanged: () => void; announce: (message: string) => void }) {
  const [channel, setChannel] = useState<Channel>('sms');
  const [recipient, setRecipient] = useState('');
  const [answer, setAnswer] = useState<SuppressionLookup | null>(null);
  const [error, setError] = useState<string | null>(null);

  const lookUp = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setAnswer(null);
    try {
      setAnswer(await api.lookupSuppression(channel, recipient.trim()));
    } catch (e) {
      setError(e instanceof ApiError && e.issues[0] ? e.issues[0].message : errorText(e));
    }
  };
  const lift = async (found: SuppressionLookup) => {
    if (!window.confirm(`Lift the suppression of ${found.recipient} (${found.channel})? Their marketing and transactional messages go out again.`)) return;
    try {
      await api.removeSuppression(found.channel, found.recipient, { reason: 'manual', detail: 'lifted in the Management UI' });
      announce(`${found.recipient} can be contacted again on ${found.channel}.`);
      setAnswer({ channel: found.channel, recipient: found.recipient, suppressed: false });
      onChanged();
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section class="card" aria-labelledby="suppression-lookup-title">
      <h2 id="suppression-lookup-title">Look up a recipient</h2>
      <form onSubmit={(e) => void lookUp(e)} noValidate>
        <div class="field-row">
          <div class="field field-row__narrow">
            <label for="lookup-channel" class="field__label">
              Channel
            </label>
            <ChoiceSelect id="lookup-channel" value={channel} choices={CHANNELS} labelOf={(c) => CHANNEL_LABELS[c]} onChoose={setChannel} />
          </div>
          <div class={`field field-row__wide${error ? ' field--invalid' : ''}`}>
            <label for="lookup-recipient" class="field__label">
              Recipient
            </label>
            <input
              id="lookup-recipient"
              type="text"
              inputMode={channel === 'sms' ? 'tel' : 'email'}
              autocomplete="off"
              spellcheck={false}
              value={recipient}
              aria-describedby={error ? 'lookup-recipient-hint lookup-recipient-error' : 'lookup-recipient-hint'}
              aria-invalid={error ? 'true' : undefined}
              onInput={(e) => setRecipient(e.currentTarget.value)}
            />
            <p id="lookup-recipient-hint" class="field__hint">
              {recipientHint(channel)}
            </p>
            {error ? (
              <p id="lookup-recipient-error" class="field__error" role="alert">
                {error}
              </p>
            ) : null}
          </div>
        </div>
        <button type="submit" class="button button--secondary">
          Look up
        </button>
      </form>
      <div role="status">
        {answer ? (
          answer.suppressed && answer.suppression ? (
            <div class="notice notice--warning">
              <p>
                <code>{answer.recipient}</code> is suppressed on {answer.channel} since {formatDateTime(answer.suppression.createdAt)}: {suppressionText(answer.suppression)}
                {answer.suppression.detail ? ` (${answer.suppression.detail})` : ''}.
              </p>
              <button type="button" class="button button--secondary button--small" onClick={() => void lift(answer)}>
                Lift the suppression
              </button>
            </div>
          ) : (
            <p class="notice notice--success">
              <code>{answer.recipient}</code> is not suppressed on {answer.channel}: messages to it go out.
            </p>
          )
        ) : null}
      </div>
    </section>
  );
}

function AddForm({ api, onChanged, announce }: { api: ApiClient; onChanged: () => void; announce: (message: string) => void }) {
  const [channel, setChannel] = useState<Channel>('sms');
  const [recipient, setRecipient] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const add = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const { created, suppression } = await api.addSuppression(channel, recipient.trim(), { reason: 'manual', ...(note.trim() === '' ? {} : { detail: note.trim() }) });
      announce(created ? `${suppression.recipient} is suppressed on ${suppression.channel}.` : `${suppression.recipient} was already suppressed on ${suppression.channel} (${suppressionText(suppression)}).`);
      setRecipient('');
      setNote('');
      onChanged();
    } catch (e) {
      setError(e instanceof ApiError && e.issues[0] ? e.issues[0].message : errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="suppression-add-title">
      <h2 id="suppression-add-title">Suppress a recipient</h2>
      <form onSubmit={(e) => void add(e)} noValidate>
        <div class="field-row">
          <div class="field field-row__narrow">
            <label for="add-channel" class="field__label">
              Channel
            </label>
            <ChoiceSelect id="add-channel" value={channel} choices={CHANNELS} labelOf={(c) => CHANNEL_LABELS[c]} onChoose={setChannel} />
          </div>
          <div class={`field field-row__wide${error ? ' field--invalid' : ''}`}>
            <label for="add-recipient" class="field__label">
              Recipient
            </label>
            <input
              id="add-recipient"
              type="text"
              inputMode={channel === 'sms' ? 'tel' : 'email'}
              autocomplete="off"
              spellcheck={false}
              value={recipient}
              aria-describedby={error ? 'add-recipient-hint add-recipient-error' : 'add-recipient-hint'}
              aria-invalid={error ? 'true' : undefined}
              onInput={(e) => setRecipient(e.currentTarget.value)}
            />
            <p id="add-recipient-hint" class="field__hint">
              {recipientHint(channel)}
            </p>
            {error ? (
              <p id="add-recipient-error" class="field__error" role="alert">
                {error}
              </p>
            ) : null}
          </div>
        </div>
        <div class="field">
          <label for="add-note" class="field__label">
            Note (optional)
          </label>
          <input id="add-note" type="text" maxLength={1000} value={note} aria-describedby="add-note-hint" onInput={(e) => setNote(e.currentTarget.value)} />
          <p id="add-note-hint" class="field__hint">
            Why, for the audit trail: “asked on the phone not to be texted”. Recorded as added by hand, by you.
          </p>
        </div>
        <button type="submit" class="button button--primary" disabled={busy}>
          {busy ? 'Adding…' : 'Suppress'}
        </button>
      </form>
    </section>
  );
}

function ChangesSection({ api, channel, refresh }: { api: ApiClient; channel: '' | Channel; refresh: number }) {
  const [items, setItems] = useState<SuppressionChange[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [download, setDownload] = useState<{ url: string; name: string; more: boolean } | null>(null);

  const load = async (more = false) => {
    setError(null);
    try {
      const page = await api.suppressionChanges({ channel: channel || undefined, limit: 100, ...(more && cursor ? { cursor } : {}) });
      setItems((prev) => (more ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- reload when the channel filter changes or an entry changed
  }, [channel, refresh]);
  // The export is fetched with the API key (it never goes in a URL) and offered as a file.
  useEffect(() => () => (download ? URL.revokeObjectURL(download.url) : undefined), [download]);

  const prepareCsv = async () => {
    setError(null);
    try {
      const { csv, nextCursor } = await api.suppressionChangesCsv({ channel: channel || undefined, limit: 500 });
      setDownload({ url: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })), name: changesCsvName(channel, new Date()), more: nextCursor !== undefined });
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section class="card" aria-labelledby="suppression-changes-title">
      <h2 id="suppression-changes-title">Audit trail</h2>
      <p class="card__intro">Every add and every removal, oldest first: who or what, when and why.</p>
      <div class="audit-export">
        <button type="button" class="button button--secondary button--small" onClick={() => void prepareCsv()}>
          Export as CSV
        </button>
        {download ? (
          <a class="button button--primary button--small" href={download.url} download={download.name}>
            Download {download.name}
          </a>
        ) : null}
        {download?.more ? <span class="muted">The first 500 changes; the API's next page has the rest.</span> : null}
      </div>
      {error ? (
        <p class="field__error" role="alert">
          {error}
        </p>
      ) : null}
      {items.length === 0 ? (
        <p class="muted">No changes yet.</p>
      ) : (
        <ol class="audit-trail">
          {items.map((c, i) => (
            <li key={i}>
              <time dateTime={c.at}>{formatDateTime(c.at)}</time> · <code>{c.recipient}</code> ({c.channel}): {suppressionChangeText(c)}
            </li>
          ))}
        </ol>
      )}
      {cursor ? (
        <button type="button" class="button button--secondary button--small" onClick={() => void load(true)}>
          Load more changes
        </button>
      ) : null}
    </section>
  );
}
