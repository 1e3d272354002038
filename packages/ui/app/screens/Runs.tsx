import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import { errorText } from '../api/error-text.js';
import { TRIGGER_STATUSES, type EventType, type Rule, type Trigger, type TriggerStatus } from '../api/types.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { RunHistory } from '../components/RunHistory.js';
import { formatDateTime, formatRelative, pluralize } from '../format.js';
import { RunWhy } from '../components/RunWhy.js';
import { RunDueTimes } from '../components/RunSchedule.js';
import { Link, ruleHref } from '../router.js';
import { PublishEvent } from './PublishEvent.js';
import { ChoiceSelect } from '../components/FormControls.js';

const POLL_MS = 2_500;

/** The runs (triggers) of one rule: status, due time, attempts, history; retry and cancel. */
export function Runs({ api, ruleId, announce }: { api: ApiClient; ruleId: string; announce: (message: string) => void }) {
  const [rule, setRule] = useState<Rule | null>(null);
  const [eventType, setEventType] = useState<EventType | undefined>(undefined);
  const [triggers, setTriggers] = useState<Trigger[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [extra, setExtra] = useState<Trigger[]>([]);
  const [status, setStatus] = useState<'' | TriggerStatus>('');
  /** The entity filter as typed, and as applied (on Enter or when the field is left). */
  const [entityText, setEntityText] = useState('');
  const [entityKey, setEntityKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const [busy, setBusy] = useState<Record<string, boolean>>({});
  const [rowError, setRowError] = useState<Record<string, string>>({});
  const visible = useRef(true);
  // Once older pages are loaded, polling refreshes the first page only and keeps the cursor.
  const pagedFurther = useRef(false);

  useEffect(() => {
    let cancelled = false;
    api
      .getRule(ruleId)
      .then(async (r) => {
        if (cancelled) return;
        setRule(r);
        const types = await api.eventTypes().catch(() => ({ items: [] as EventType[] }));
        if (!cancelled) setEventType(types.items.find((t) => t.name === r.trigger.eventName));
      })
      .catch((e) => !cancelled && setError(e instanceof ApiError && e.status === 404 ? 'This rule does not exist (or belongs to another account).' : errorText(e)));
    return () => {
      cancelled = true;
    };
  }, [api, ruleId]);

  const refresh = async () => {
    try {
      const page = await api.listTriggers({ ruleId, ...(status ? { status: [status] } : {}), ...(entityKey ? { entityKey } : {}), limit: 50 });
      setTriggers(page.items);
      if (!pagedFurther.current) setCursor(page.nextCursor);
      setError(null);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoaded(true);
    }
  };

  // Runs change on their own (due, sent, retried), so the list refreshes while the page is visible.
  useEffect(() => {
    setExtra([]);
    pagedFurther.current = false;
    setLoaded(false);
    void refresh();
    const onVisibility = () => {
      visible.current = document.visibilityState === 'visible';
    };
    document.addEventListener('visibilitychange', onVisibility);
    const timer = setInterval(() => {
      if (visible.current) void refresh();
    }, POLL_MS);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- restart polling when the filter changes
  }, [ruleId, status, entityKey]);

  const loadMore = async () => {
    if (!cursor) return;
    try {
      const page = await api.listTriggers({ ruleId, ...(status ? { status: [status] } : {}), ...(entityKey ? { entityKey } : {}), limit: 50, cursor });
      pagedFurther.current = true;
      setExtra((prev) => [...prev, ...page.items]);
      setCursor(page.nextCursor);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const act = async (trigger: Trigger, action: 'retry' | 'cancel') => {
    setBusy((b) => ({ ...b, [trigger.id]: true }));
    setRowError(({ [trigger.id]: _gone, ...rest }) => rest);
    try {
      const updated = action === 'retry' ? await api.retryTrigger(trigger.id) : await api.cancelTrigger(trigger.id);
      setTriggers((list) => list.map((t) => (t.id === updated.id ? updated : t)));
      announce(action === 'retry' ? 'The run will be retried now.' : 'The run was cancelled.');
      void refresh();
    } catch (e) {
      setRowError((r) => ({ ...r, [trigger.id]: e instanceof ApiError && e.status === 409 ? `It can no longer be ${action === 'retry' ? 'retried' : 'cancelled'}: ${e.message}` : errorText(e) }));
    } finally {
      setBusy(({ [trigger.id]: _done, ...rest }) => rest);
    }
  };

  const all = [...triggers, ...extra.filter((t) => !triggers.some((x) => x.id === t.id))];

  return (
    <div class="page">
      <nav class="breadcrumb" aria-label="Breadcrumb">
        <Link to="">Rules</Link>
        <span aria-hidden="true"> / </span>
        {rule ? <Link to={ruleHref(rule.id)}>{rule.name}</Link> : <span>Rule</span>}
        <span aria-hidden="true"> / </span>
        <span aria-current="page">Runs</span>
      </nav>
      <div class="page-head">
        <div class="page-head__title">
          <h1 tabIndex={-1} class="break">
            Runs{rule ? <span class="visually-hidden"> of {rule.name}</span> : null}
          </h1>
          {rule ? (
            <p class="muted break">
              {rule.name} · on <code>{rule.trigger.eventName}</code> · {rule.enabled ? 'enabled' : 'disabled'}
            </p>
          ) : null}
        </div>
        <div class="page-head__actions">
          {rule ? (
            <Link to={ruleHref(rule.id)} class="button button--secondary">
              Edit rule
            </Link>
          ) : null}
        </div>
      </div>

      {error ? (
        <p class="notice notice--danger" role="alert">
          {error}
        </p>
      ) : null}

      <div class="runs-layout">
        <div class="runs-layout__main">
          <div class="filters filters--compact">
            <div class="field">
              <label for="run-status-filter" class="field__label">
                Status
              </label>
              <ChoiceSelect id="run-status-filter" value={status} choices={TRIGGER_STATUSES} emptyLabel="All statuses" onChoose={setStatus} />
            </div>
            {rule?.trigger.key || entityKey ? (
              <div class="field">
                <label for="run-entity-filter" class="field__label">
                  Entity
                </label>
                <input
                  id="run-entity-filter"
                  type="search"
                  autocomplete="off"
                  spellcheck={false}
                  placeholder={rule?.trigger.key ? `Value of ${rule.trigger.key}` : ''}
                  value={entityText}
                  onInput={(e) => setEntityText(e.currentTarget.value)}
                  onChange={(e) => setEntityKey(e.currentTarget.value.trim())}
                />
              </div>
            ) : null}
            <button type="button" class="button button--secondary" onClick={() => void refresh()}>
              Refresh
            </button>
          </div>
          <p class="list-count" role="status">
            {!loaded ? 'Loading runs…' : `${pluralize(all.length, 'run')}${cursor ? ' (more below)' : ''}. Updates every few seconds.`}
          </p>
          {loaded && all.length === 0 ? (
            <div class="empty">
              {entityKey ? (
                <>
                  <h2>No runs for this entity</h2>
                  <p>
                    No run of this rule has the entity key <code>{entityKey}</code>
                    {status ? ` with the status ${status}` : ''}.
                  </p>
                </>
              ) : (
                <>
                  <h2>No runs yet</h2>
                  <p>A run starts when a matching event arrives. Publish a test event to see one.</p>
                </>
              )}
            </div>
          ) : (
            <ol class="run-list">
              {all.map((trigger) => (
                <li key={trigger.id} class="run" aria-labelledby={`run-${trigger.id}-title`}>
                  <div class="run__head">
                    <div class="run__title" id={`run-${trigger.id}-title`}>
                      <StatusBadge status={trigger.status} />
                      <span class="run__when">
                        {trigger.status === 'pending' || trigger.status === 'retrying'
                          ? 'Due '
                          : // A run cancelled, replaced or skipped before its time never came due.
                            Date.parse(trigger.evaluateAt) > Date.now()
                            ? 'Would have been due '
                            : 'Was due '}
                        <time dateTime={trigger.evaluateAt} title={formatDateTime(trigger.evaluateAt)}>
                          {formatRelative(trigger.evaluateAt)}
                        </time>
                      </span>
                    </div>
                    <dl class="run__meta">
                      <div>
                        <dt>Evaluate at</dt>
                        <dd>
                          <time dateTime={trigger.evaluateAt}>{formatDateTime(trigger.evaluateAt)}</time>
                        </dd>
                      </div>
                      <RunDueTimes trigger={trigger} />
                      <div>
                        <dt>Attempts</dt>
                        <dd>{trigger.attempt}</dd>
                      </div>
                      <div>
                        <dt>Event</dt>
                        <dd class="break">
                          <code>{trigger.triggeringEvent.id}</code>
                        </dd>
                      </div>
                      {trigger.entityKey !== undefined ? (
                        <div>
                          <dt>Entity</dt>
                          <dd class="break">
                            <code>{trigger.entityKey}</code>
                          </dd>
                        </div>
                      ) : null}
                    </dl>
                    <div class="run__actions">
                      <button
                        type="button"
                        class="button button--secondary button--small"
                        aria-expanded={open[trigger.id] === true}
                        aria-controls={`run-${trigger.id}-history`}
                        onClick={() => setOpen((o) => ({ ...o, [trigger.id]: !o[trigger.id] }))}
                      >
                        {open[trigger.id] ? 'Hide history' : 'History'}
                        <span class="visually-hidden"> of the run due {formatDateTime(trigger.evaluateAt)}</span>
                      </button>
                      {trigger.status === 'failed' ? (
                        <button type="button" class="button button--primary button--small" disabled={busy[trigger.id] === true} onClick={() => void act(trigger, 'retry')}>
                          Retry<span class="visually-hidden"> the run due {formatDateTime(trigger.evaluateAt)}</span>
                        </button>
                      ) : null}
                      {trigger.status === 'pending' || trigger.status === 'retrying' ? (
                        <button type="button" class="button button--quiet button--small button--danger-text" disabled={busy[trigger.id] === true} onClick={() => void act(trigger, 'cancel')}>
                          Cancel<span class="visually-hidden"> the run due {formatDateTime(trigger.evaluateAt)}</span>
                        </button>
                      ) : null}
                    </div>
                  </div>
                  <RunWhy trigger={trigger} />
                  {rowError[trigger.id] ? (
                    <p class="field__error" role="alert">
                      {rowError[trigger.id]}
                    </p>
                  ) : null}
                  <div id={`run-${trigger.id}-history`} hidden={!open[trigger.id]}>
                    {open[trigger.id] ? <RunHistory api={api} trigger={trigger} rule={rule} onChanged={() => void refresh()} announce={announce} /> : null}
                  </div>
                </li>
              ))}
            </ol>
          )}
          {cursor ? (
            <button type="button" class="button button--secondary" onClick={() => void loadMore()}>
              Load older runs
            </button>
          ) : null}
        </div>
        <aside class="runs-layout__side" aria-labelledby="publish-heading">
          {rule ? <PublishEvent api={api} ruleId={rule.id} eventName={rule.trigger.eventName} sample={eventType?.samplePayload} onPublished={() => void refresh()} /> : null}
        </aside>
      </div>
    </div>
  );
}
