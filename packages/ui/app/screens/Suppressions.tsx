// One file: the suppressions screen (the list, look-up, add, lift, the audit trail and its CSV export)
// works on one list, and its parts refresh each other.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import { errorText } from '../api/error-text.js';
import type { Suppression, SuppressionLookup } from '../api/types.js';
import { ChoiceSelect } from '../components/FormControls.js';
import { LoadMoreButton, usePagedList } from '../components/paged-list.js';
import { RetryNotice } from '../components/RetryNotice.js';
import { formatDateTime, pluralize } from '../format.js';
import { changesCsvName, suppressionChangeText, suppressionText } from '../model/contact-outcome.js';
import { UI_LIFT, uiSuppressionEntry } from '../model/manual-suppression.js';

const CHANNELS = ['sms', 'email'] as const;
type Channel = (typeof CHANNELS)[number];
const CHANNEL_LABELS: Record<Channel, string> = { sms: 'SMS', email: 'Email' };
const recipientHint = (channel: Channel) => (channel === 'sms' ? 'A phone number in E.164, like +15557654321.' : 'An email address; case does not matter.');

/** Who must not be contacted: the list per channel, look up, add or lift an entry, and every change for an audit. */
export function Suppressions({ api, announce }: { api: ApiClient; announce: (message: string) => void }) {
  const [channel, setChannel] = useState<'' | Channel>('');
  const [rowError, setRowError] = useState<Record<string, string>>({});
  const [refresh, setRefresh] = useState(0);
  const list = usePagedList((cursor) => api.listSuppressions({ channel: channel || undefined, ...(cursor ? { cursor } : {}) }));
  const { items, cursor, loading, error, load } = list;
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
      const { removed } = await api.removeSuppression(entry.channel, entry.recipient, UI_LIFT);
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
        {error ? <RetryNotice message={error} onRetry={() => void load()} /> : null}
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
        <LoadMoreButton list={list} label="Load more" />
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
      await api.removeSuppression(found.channel, found.recipient, UI_LIFT);
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
        <RecipientFields idPrefix="lookup" channel={channel} onChannel={setChannel} recipient={recipient} onRecipient={setRecipient} error={error} />
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
      const { created, suppression } = await api.addSuppression(channel, recipient.trim(), uiSuppressionEntry(note));
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
        <RecipientFields idPrefix="add" channel={channel} onChannel={setChannel} recipient={recipient} onRecipient={setRecipient} error={error} />
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

/** The channel and the recipient, with the hint for the channel and the API's answer on the recipient: the look-up and the add ask the same. */
function RecipientFields(props: {
  idPrefix: string;
  channel: Channel;
  onChannel: (channel: Channel) => void;
  recipient: string;
  onRecipient: (recipient: string) => void;
  error: string | null;
}) {
  const { idPrefix, channel, onChannel, recipient, onRecipient, error } = props;
  return (
    <div class="field-row">
      <div class="field field-row__narrow">
        <label for={`${idPrefix}-channel`} class="field__label">
          Channel
        </label>
        <ChoiceSelect id={`${idPrefix}-channel`} value={channel} choices={CHANNELS} labelOf={(c) => CHANNEL_LABELS[c]} onChoose={onChannel} />
      </div>
      <div class={`field field-row__wide${error ? ' field--invalid' : ''}`}>
        <label for={`${idPrefix}-recipient`} class="field__label">
          Recipient
        </label>
        <input
          id={`${idPrefix}-recipient`}
          type="text"
          inputMode={channel === 'sms' ? 'tel' : 'email'}
          autocomplete="off"
          spellcheck={false}
          value={recipient}
          aria-describedby={error ? `${idPrefix}-recipient-hint ${idPrefix}-recipient-error` : `${idPrefix}-recipient-hint`}
          aria-invalid={error ? 'true' : undefined}
          onInput={(e) => onRecipient(e.currentTarget.value)}
        />
        <p id={`${idPrefix}-recipient-hint`} class="field__hint">
          {recipientHint(channel)}
        </p>
        {error ? (
          <p id={`${idPrefix}-recipient-error`} class="field__error" role="alert">
            {error}
          </p>
        ) : null}
      </div>
    </div>
  );
}

function ChangesSection({ api, channel, refresh }: { api: ApiClient; channel: '' | Channel; refresh: number }) {
  const changes = usePagedList((cursor) => api.suppressionChanges({ channel: channel || undefined, limit: 100, ...(cursor ? { cursor } : {}) }));
  const { items, load } = changes;
  const [exportError, setExportError] = useState<string | null>(null);
  const [download, setDownload] = useState<{ url: string; name: string; more: boolean } | null>(null);
  const error = changes.error ?? exportError;
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- reload when the channel filter changes or an entry changed
  }, [channel, refresh]);
  // The export is fetched with the API key (it never goes in a URL) and offered as a file.
  useEffect(() => () => (download ? URL.revokeObjectURL(download.url) : undefined), [download]);

  const prepareCsv = async () => {
    setExportError(null);
    try {
      const { csv, nextCursor } = await api.suppressionChangesCsv({ channel: channel || undefined, limit: 500 });
      setDownload({ url: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })), name: changesCsvName(channel, new Date()), more: nextCursor !== undefined });
    } catch (e) {
      setExportError(errorText(e));
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
      <LoadMoreButton list={changes} label="Load more changes" small />
    </section>
  );
}
