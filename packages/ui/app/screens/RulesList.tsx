import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import { errorText } from '../api/error-text.js';
import type { Rule, RuleStats, TriggerStatus } from '../api/types.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { formatDateTime, formatDelay, formatRelative, pluralize } from '../format.js';
import { entitySummary } from '../model/entity-form.js';
import { describeSchedule } from '../model/schedule-words.js';
import { documentOf } from '../model/rule-document.js';
import { Link, ruleHref, runsHref } from '../router.js';
import { ChoiceSelect } from '../components/FormControls.js';
import { LoadMoreButton, usePagedList } from '../components/paged-list.js';
import { RetryNotice } from '../components/RetryNotice.js';

const SHOWN_COUNTS: TriggerStatus[] = ['completed', 'skipped', 'failed', 'pending', 'retrying', 'processing', 'cancelled'];

/** The account's rules: search, filter, enable or disable in one click, and their recent runs. */
export function RulesList({ api, announce }: { api: ApiClient; announce: (message: string) => void }) {
  const [stats, setStats] = useState<Record<string, RuleStats | 'error'>>({});
  const [eventNames, setEventNames] = useState<string[]>([]);
  const [search, setSearch] = useState('');
  const [eventFilter, setEventFilter] = useState('');
  const [enabledFilter, setEnabledFilter] = useState<'' | 'true' | 'false'>('');
  const [busy, setBusy] = useState<Record<string, boolean>>({});
  const [rowError, setRowError] = useState<Record<string, string>>({});

  const filter = { eventName: eventFilter || undefined, enabled: enabledFilter === '' ? undefined : enabledFilter === 'true' };

  const loadStats = (items: Rule[]) => {
    for (const rule of items) {
      api
        .ruleStats(rule.id)
        .then((s) => setStats((prev) => ({ ...prev, [rule.id]: s })))
        .catch(() => setStats((prev) => ({ ...prev, [rule.id]: 'error' })));
    }
  };

  const list = usePagedList((cursor) => api.listRules({ ...filter, ...(cursor ? { cursor } : {}) }), loadStats);
  const { items: rules, setItems: setRules, loading, error, load } = list;

  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- reload when the server-side filters change
  }, [eventFilter, enabledFilter]);

  useEffect(() => {
    api
      .eventTypes()
      .then((r) => setEventNames(r.items.map((t) => t.name)))
      .catch(() => undefined);
  }, [api]);

  const shown = useMemo(() => {
    const needle = search.trim().toLocaleLowerCase();
    return needle ? rules.filter((r) => r.name.toLocaleLowerCase().includes(needle)) : rules;
  }, [rules, search]);

  const toggle = async (rule: Rule) => {
    setBusy((b) => ({ ...b, [rule.id]: true }));
    setRowError(({ [rule.id]: _gone, ...rest }) => rest);
    try {
      const updated = await api.updateRule(rule.id, { ...(documentOf(rule) as Record<string, never>), enabled: !rule.enabled }, rule.version);
      setRules((list) => list.map((r) => (r.id === rule.id ? updated : r)));
      announce(`"${updated.name}" is now ${updated.enabled ? 'enabled' : 'disabled'}.`);
    } catch (e) {
      const text = e instanceof ApiError && e.status === 409 ? 'Changed elsewhere; reloaded. Try again.' : errorText(e);
      setRowError((r) => ({ ...r, [rule.id]: text }));
      if (e instanceof ApiError && e.status === 409) {
        const fresh = await api.getRule(rule.id).catch(() => null);
        if (fresh) setRules((list) => list.map((r) => (r.id === rule.id ? fresh : r)));
      }
    } finally {
      setBusy(({ [rule.id]: _done, ...rest }) => rest);
    }
  };

  const allEvents = [...new Set([...eventNames, ...rules.map((r) => r.trigger.eventName)])].sort();

  return (
    <div class="page">
      <div class="page-head">
        <div class="page-head__title">
          <h1 tabIndex={-1}>Rules</h1>
          <p class="muted">When an event arrives, each enabled rule for it waits, checks its conditions and sends its actions.</p>
        </div>
        <div class="page-head__actions">
          <Link to="rules/new" class="button button--primary">
            New rule
          </Link>
        </div>
      </div>

      <form class="filters" role="search" aria-label="Filter rules" onSubmit={(e) => e.preventDefault()}>
        <div class="field filters__search">
          <label for="rule-search" class="field__label">
            Search by name
          </label>
          <input id="rule-search" type="search" autocomplete="off" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="rule-event-filter" class="field__label">
            Event
          </label>
          <ChoiceSelect id="rule-event-filter" value={eventFilter} choices={allEvents} emptyLabel="All events" onChoose={setEventFilter} />
        </div>
        <div class="field">
          <label for="rule-enabled-filter" class="field__label">
            Status
          </label>
          <select id="rule-enabled-filter" value={enabledFilter} onChange={(e) => setEnabledFilter(e.currentTarget.value as '' | 'true' | 'false')}>
            <option value="">Enabled and disabled</option>
            <option value="true">Enabled only</option>
            <option value="false">Disabled only</option>
          </select>
        </div>
      </form>

      {error ? <RetryNotice message={error} onRetry={() => void load()} /> : null}

      <p class="list-count" role="status">
        {loading && rules.length === 0 ? 'Loading rules…' : search ? `${pluralize(shown.length, 'rule')} match "${search}"` : pluralize(shown.length, 'rule')}
      </p>

      {!loading && rules.length === 0 && !error && !eventFilter && !enabledFilter ? (
        <div class="empty">
          <h2>No rules yet</h2>
          <p>Create one to text a technician when a job is done, email a manager about a big job, or call a webhook.</p>
          <Link to="rules/new" class="button button--primary">
            Create your first rule
          </Link>
        </div>
      ) : (
        <ul class="rule-list">
          {shown.map((rule) => {
            const s = stats[rule.id];
            return (
              <li key={rule.id} class={`rule-item${rule.enabled ? '' : ' rule-item--disabled'}`}>
                <div class="rule-item__main">
                  <h2 class="rule-item__name">
                    <Link to={ruleHref(rule.id)}>{rule.name}</Link>
                  </h2>
                  {rule.description ? <p class="rule-item__description">{rule.description}</p> : null}
                  <dl class="rule-item__meta">
                    <div>
                      <dt>Event</dt>
                      <dd>
                        <code>{rule.trigger.eventName}</code>
                      </dd>
                    </div>
                    {rule.schedule ? (
                      <div>
                        <dt>Schedule</dt>
                        <dd>{describeSchedule(rule.schedule)}</dd>
                      </div>
                    ) : (
                      <div>
                        <dt>Delay</dt>
                        <dd>{formatDelay(rule.delay)}</dd>
                      </div>
                    )}
                    {rule.trigger.key ? (
                      <div>
                        <dt>Per</dt>
                        <dd>
                          <code>{rule.trigger.key}</code>
                          {entitySummary(rule).map((part) => ` · ${part}`).join('')}
                        </dd>
                      </div>
                    ) : null}
                    <div>
                      <dt>Last fired</dt>
                      <dd>
                        {s === undefined ? (
                          '…'
                        ) : s === 'error' ? (
                          'unknown'
                        ) : s.lastFiredAt ? (
                          <time dateTime={s.lastFiredAt} title={formatDateTime(s.lastFiredAt)}>
                            {formatRelative(s.lastFiredAt)}
                          </time>
                        ) : (
                          'never'
                        )}
                      </dd>
                    </div>
                  </dl>
                  <RunCounts stats={s} ruleId={rule.id} />
                  {rowError[rule.id] ? (
                    <p class="field__error" role="alert">
                      {rowError[rule.id]}
                    </p>
                  ) : null}
                </div>
                <div class="rule-item__side">
                  <button
                    type="button"
                    role="switch"
                    class="toggle"
                    aria-checked={rule.enabled}
                    aria-label={`Enabled: ${rule.name}`}
                    disabled={busy[rule.id] === true}
                    onClick={() => void toggle(rule)}
                  >
                    <span class="toggle__track" aria-hidden="true">
                      <span class="toggle__thumb" />
                    </span>
                    <span class="toggle__text" aria-hidden="true">
                      {rule.enabled ? 'On' : 'Off'}
                    </span>
                  </button>
                  <Link to={runsHref(rule.id)} class="button button--quiet button--small">
                    Runs<span class="visually-hidden"> of {rule.name}</span>
                  </Link>
                </div>
              </li>
            );
          })}
        </ul>
      )}
      <LoadMoreButton list={list} label="Load more rules" />
    </div>
  );
}

function RunCounts({ stats, ruleId }: { stats: RuleStats | 'error' | undefined; ruleId: string }) {
  if (stats === undefined || stats === 'error') return null;
  const nonZero = SHOWN_COUNTS.filter((status) => (stats.counts[status] ?? 0) > 0);
  return (
    <div class="run-counts" id={`counts-${ruleId}`}>
      <span class="run-counts__label">Runs, last 7 days:</span>
      {nonZero.length === 0 ? (
        <span class="muted">none</span>
      ) : (
        <ul class="run-counts__list">
          {nonZero.map((status) => (
            <li key={status}>
              <StatusBadge status={status} /> <span class="run-counts__n">{stats.counts[status]}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
