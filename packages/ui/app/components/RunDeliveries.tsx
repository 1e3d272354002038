import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiClient } from '../api/client.js';
import { errorText } from '../api/error-text.js';
import type { Delivery, DeliveryResolution, Trigger } from '../api/types.js';
import { formatDateTime } from '../format.js';
import { canResolve, DELIVERY_STATE_LABELS, deliveryEventText, deliveryMeaning, deliveryTone, resendConfirmation, resolvedText, resolveFailureText } from '../model/deliveries.js';
import { ACTION_LABELS } from './ActionCard.js';

/** Receipts move deliveries without touching the run, so the list is read again while it is shown. */
const POLL_MS = 5_000;

/**
 * The sends of one run, from the delivery ledger (`GET /triggers/:id/deliveries`): each action's
 * state, provider, provider id, recipient, error and timeline; an `unknown` one can be resolved as
 * sent or sent again (`POST /deliveries/:id/resolve`, triggers:write scope).
 */
export function RunDeliveries({ api, trigger, onChanged, announce }: { api: ApiClient; trigger: Trigger; onChanged: () => void; announce: (message: string) => void }) {
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const mounted = useRef(true);

  const load = async () => {
    try {
      const { items } = await api.triggerDeliveries(trigger.id);
      if (!mounted.current) return;
      setDeliveries(items);
      setError(null);
    } catch (e) {
      if (mounted.current) setError(errorText(e));
    }
  };

  useEffect(() => {
    mounted.current = true;
    void load();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, POLL_MS);
    return () => {
      mounted.current = false;
      clearInterval(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- read again when the run itself changed
  }, [api, trigger.id, trigger.updatedAt]);

  const headingId = `run-${trigger.id}-deliveries`;
  return (
    <section class="deliveries" aria-labelledby={headingId}>
      <h3 id={headingId} class="history__label">
        Sends
      </h3>
      {error ? (
        <p class="field__error" role="alert">
          The sends could not be loaded: {error}
        </p>
      ) : null}
      {deliveries === null && !error ? <p class="muted">Loading the sends…</p> : null}
      {deliveries !== null && deliveries.length === 0 ? <p class="muted">Nothing was sent for this run.</p> : null}
      {deliveries !== null && deliveries.length > 0 ? (
        <ol class="deliveries__list">
          {deliveries.map((delivery) => (
            <li key={delivery.id} class={`delivery delivery--${deliveryTone(delivery.state)}`}>
              <DeliveryView
                delivery={delivery}
                onResolved={(updated, as) => {
                  setDeliveries((list) => list?.map((d) => (d.id === updated.id ? updated : d)) ?? null);
                  announce(resolvedText(as));
                  // A resend puts the run back to pending: the list above shows it.
                  onChanged();
                  void load();
                }}
                api={api}
              />
            </li>
          ))}
        </ol>
      ) : null}
    </section>
  );
}

function DeliveryView({ api, delivery, onResolved }: { api: ApiClient; delivery: Delivery; onResolved: (updated: Delivery, as: DeliveryResolution['as']) => void }) {
  const label = ACTION_LABELS[delivery.type] ?? delivery.type;
  const titleId = `delivery-${delivery.id}-title`;
  return (
    <div aria-labelledby={titleId} role="group">
      <p class="delivery__head" id={titleId}>
        <span class={`badge badge--delivery-${deliveryTone(delivery.state)}`}>{DELIVERY_STATE_LABELS[delivery.state]}</span>
        <span>
          {delivery.actionIndex + 1}. {label} · attempt {delivery.attempt}
        </span>
      </p>
      <p class="delivery__meaning">{deliveryMeaning(delivery.state)}</p>
      <dl class="delivery__meta">
        <div>
          <dt>Provider</dt>
          <dd>{delivery.provider}</dd>
        </div>
        <div>
          <dt>Provider id</dt>
          <dd class="break">{delivery.providerId ? <code>{delivery.providerId}</code> : '—'}</dd>
        </div>
        <div>
          <dt>Recipient</dt>
          <dd class="break">{delivery.recipient ?? '—'}</dd>
        </div>
      </dl>
      {delivery.error ? (
        <div class="error-block">
          <code class="error-block__code">{delivery.error.code}</code>
          <p>{delivery.error.message}</p>
        </div>
      ) : null}
      <details class="delivery__events">
        <summary>
          Timeline ({delivery.events.length} {delivery.events.length === 1 ? 'event' : 'events'})
        </summary>
        <ol class="delivery__timeline">
          {delivery.events.map((event, i) => (
            <li key={i}>
              <time dateTime={event.at}>{formatDateTime(event.at)}</time> · {deliveryEventText(event)}
            </li>
          ))}
        </ol>
      </details>
      {canResolve(delivery) ? <ResolveForm api={api} delivery={delivery} actionLabel={label} onResolved={onResolved} /> : null}
    </div>
  );
}

function ResolveForm({ api, delivery, actionLabel, onResolved }: { api: ApiClient; delivery: Delivery; actionLabel: string; onResolved: (updated: Delivery, as: DeliveryResolution['as']) => void }) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const noteId = `delivery-${delivery.id}-note`;

  const resolve = async (as: DeliveryResolution['as']) => {
    if (as === 'resend' && !window.confirm(resendConfirmation(delivery, actionLabel))) return;
    setBusy(true);
    setFailure(null);
    try {
      const trimmed = note.trim();
      const updated = await api.resolveDelivery(delivery.id, { as, ...(trimmed ? { note: trimmed } : {}) });
      onResolved(updated, as);
    } catch (e) {
      setFailure(resolveFailureText(e, as));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="delivery__resolve">
      <p>
        Look for it in {delivery.provider}'s console{delivery.recipient ? `, sent to ${delivery.recipient}` : ''} around {formatDateTime(delivery.createdAt)}, then say what
        happened.
      </p>
      <div class="field">
        <label for={noteId} class="field__label">
          Note (optional)
        </label>
        <input id={noteId} type="text" maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </div>
      <div class="delivery__buttons">
        <button type="button" class="button button--secondary button--small" disabled={busy} onClick={() => void resolve('sent')}>
          Mark as sent<span class="visually-hidden"> the {actionLabel} of attempt {delivery.attempt}</span>
        </button>
        <button type="button" class="button button--primary button--small" disabled={busy} onClick={() => void resolve('resend')}>
          Send again<span class="visually-hidden"> the {actionLabel} of attempt {delivery.attempt}</span>
        </button>
      </div>
      {failure ? (
        <p class="field__error" role="alert">
          {failure}
        </p>
      ) : null}
    </div>
  );
}
