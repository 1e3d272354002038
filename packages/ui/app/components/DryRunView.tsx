import type { ComponentChildren } from 'preact';
import type { ActionCommand, ConditionTrace, DryRunCommand, DryRunOk, ErrorSummary } from '../api/types.js';
import { formatDateTime, formatRelative, formatValue } from '../format.js';
import { dryRunContactPolicyText } from '../model/contact-outcome.js';
import { dryRunVerdict } from '../model/dry-run-verdict.js';
import type { PathIssue } from '../model/form-fields.js';
import { isJsonObject, prettyJson, type JsonValue } from '../model/json.js';
import { operatorLabel } from '../model/operators.js';
import { ACTION_LABELS } from './ActionCard.js';
import { DryRunScheduleView } from './RunSchedule.js';

interface DryRunViewProps {
  result: DryRunOk;
  eventName: string;
  ruleEvent: string;
  /** The rule's save warnings (an action type with no gateway here): such an action would fail. */
  warnings?: readonly PathIssue[] | undefined;
}

/** The outcome of a dry run: the verdict, each condition with the value seen, and what would be sent. */
export function DryRunView({ result, eventName, ruleEvent, warnings = [] }: DryRunViewProps) {
  const verdict = dryRunVerdict(result, warnings);
  return (
    <div class="dry-run">
      <p class={`verdict verdict--${verdict.tone}`}>
        {verdict.tone === 'warning' ? <span class="visually-hidden">Warning: </span> : null}
        <strong>{verdict.text}</strong>
        {result.matched && !result.error && result.schedule?.outcome !== 'skipped' ? (
          <span>
            {' '}
            at <time dateTime={result.evaluateAt}>{formatDateTime(result.evaluateAt)}</time> ({formatRelative(result.evaluateAt)})
          </span>
        ) : null}
      </p>
      {!result.eventMatches ? (
        <p class="notice notice--warning">
          This sample is a <code>{eventName}</code> event; the rule runs on <code>{ruleEvent}</code> events, so no trigger would be created.
        </p>
      ) : null}
      {!result.enabled ? <p class="notice notice--warning">The rule is disabled: events would not create triggers until it is enabled.</p> : null}
      {result.currentFacts && result.currentFacts.length > 0 ? (
        <p class="muted">
          Read as they are when the run fires (from the current state given): {result.currentFacts.map((fact, i) => (
            <span key={fact}>
              {i > 0 ? ', ' : ''}
              <code>{fact}</code>
            </span>
          ))}
          .
        </p>
      ) : null}
      {result.error ? <ErrorBlock error={result.error} /> : null}
      {result.schedule ? <DryRunScheduleView schedule={result.schedule} /> : null}

      <h3 class="dry-run__heading">Conditions</h3>
      <ConditionTraceList traces={result.conditions} />

      {result.commands.length > 0 ? (
        <>
          <h3 class="dry-run__heading">What would be sent</h3>
          <ol class="commands">
            {result.commands.map((c) => {
              const failure = c.command ? verdict.failing.get(c.index) : undefined;
              return (
                <li key={c.index}>
                  <CommandView command={c} />
                  {failure ? <p class="notice notice--warning command__failure">Would fail when sent: {failure}</p> : null}
                </li>
              );
            })}
          </ol>
        </>
      ) : null}
    </div>
  );
}

/** Each evaluated condition: passed or failed, with the value the fact had. */
export function ConditionTraceList({ traces }: { traces: readonly ConditionTrace[] }) {
  if (traces.length === 0) return <p class="muted">No conditions: every event of this type matches.</p>;
  return (
    <ul class="traces">
      {traces.map((t, i) => {
        const state = t.evaluated === false ? 'skipped' : t.result ? 'pass' : 'fail';
        return (
          <li key={`${t.path}-${i}`} class={`trace trace--${state}`}>
            <span class="trace__mark" aria-hidden="true">
              {state === 'pass' ? '✓' : state === 'fail' ? '✕' : '–'}
            </span>
            <div class="trace__text">
              <span class="visually-hidden">{state === 'pass' ? 'Passed: ' : state === 'fail' ? 'Failed: ' : 'Not checked: '}</span>
              <code>
                {t.fact}
                {t.factPath && t.factPath !== '$' ? ` ${t.factPath}` : ''}
              </code>{' '}
              {operatorLabel(t.operator)} <code>{formatValue(t.value)}</code>
              <div class="trace__seen">
                {state === 'skipped' ? (
                  'Not checked: the group was decided before this condition.'
                ) : (
                  <>
                    Value seen: <code>{formatValue(t.factResult)}</code>
                    {'eventValue' in t ? (
                      <>
                        {' '}
                        (current state; the event had <code>{formatValue(t.eventValue)}</code>)
                      </>
                    ) : null}
                  </>
                )}
              </div>
            </div>
          </li>
        );
      })}
    </ul>
  );
}

function str(value: JsonValue | undefined): string {
  return typeof value === 'string' ? value : value === undefined ? '' : prettyJson(value);
}

/** A rendered command the way its channel would get it. */
export function CommandView({ command }: { command: DryRunCommand }) {
  const label = ACTION_LABELS[command.type] ?? command.type;
  if (!command.command) {
    return (
      <div class="command command--error">
        <p class="command__title">
          {command.index + 1}. {label}: could not be rendered
        </p>
        {command.error ? <ErrorBlock error={command.error} /> : null}
      </div>
    );
  }
  return (
    <div class="command">
      <p class="command__title">
        {command.index + 1}. {label}
      </p>
      <RenderedParams command={command.command} />
      {command.contactPolicy ? (
        <p class={`command__policy command__policy--${command.contactPolicy.outcome}`}>
          <strong>Contact policy: </strong>
          {dryRunContactPolicyText(command.contactPolicy, formatDateTime)}
        </p>
      ) : null}
      <details class="command__exact">
        <summary>Exact command</summary>
        <pre class="code-block">{prettyJson(command.command)}</pre>
      </details>
    </div>
  );
}

function RenderedParams({ command }: { command: ActionCommand }) {
  const p = command.params;
  if (command.type === 'sms') {
    return (
      <dl class="rendered">
        <Param label="To">
          <code>{str(p['recipient'])}</code>
        </Param>
        <Param label="Message" class="rendered__message">
          {str(p['message'])}
        </Param>
      </dl>
    );
  }
  if (command.type === 'email') {
    return (
      <dl class="rendered">
        <Param label="To">
          <code>{str(p['recipient'])}</code>
        </Param>
        <Param label="Subject">{str(p['subject'])}</Param>
        {p['body'] !== undefined ? (
          <Param label="Body" class="rendered__message">
            {str(p['body'])}
          </Param>
        ) : null}
        {p['html'] !== undefined ? <CodeBlockParam label="HTML" text={str(p['html'])} /> : null}
        {p['templateId'] !== undefined ? (
          <Param label="Template">
            <code>{str(p['templateId'])}</code>
          </Param>
        ) : null}
      </dl>
    );
  }
  if (command.type === 'webhook') {
    const headers = isJsonObject(p['headers']) ? Object.entries(p['headers']) : [];
    return (
      <dl class="rendered">
        <Param label="Request">
          <code class="rendered__url">
            {str(p['method'] ?? 'POST')} {str(p['url'])}
          </code>
        </Param>
        {headers.length > 0 ? <CodeBlockParam label="Headers" text={headers.map(([k, v]) => `${k}: ${str(v)}`).join('\n')} /> : null}
        {p['payload'] !== undefined ? <CodeBlockParam label="Body" text={prettyJson(p['payload'])} /> : null}
      </dl>
    );
  }
  return <pre class="code-block">{prettyJson(p)}</pre>;
}

/** One rendered param of a command: its label and its value. */
function Param({ label, class: valueClass, children }: { label: string; class?: string | undefined; children: ComponentChildren }) {
  return (
    <>
      <dt>{label}</dt>
      <dd class={valueClass}>{children}</dd>
    </>
  );
}

/** A rendered param whose value keeps its lines (HTML, headers, a JSON body). */
function CodeBlockParam({ label, text }: { label: string; text: string }) {
  return (
    <Param label={label}>
      <pre class="code-block">{text}</pre>
    </Param>
  );
}

export function ErrorBlock({ error }: { error: ErrorSummary }) {
  return (
    <div class="error-block">
      <code class="error-block__code">{error.code}</code>
      <p>{error.message}</p>
      {error.retryable !== undefined ? <p class="muted">{error.retryable ? 'Temporary: retried automatically.' : 'Permanent: not retried automatically.'}</p> : null}
    </div>
  );
}
