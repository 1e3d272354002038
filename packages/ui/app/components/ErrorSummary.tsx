import type { RefObject } from 'preact';
import type { PathIssue } from '../model/form-fields.js';
import { placeOf } from '../model/issue-messages.js';
import { fieldId } from '../model/issue-path.js';
import { pluralize } from '../format.js';

interface ErrorSummaryProps {
  /** One issue per field, in words for people (`issuesForPeople`), and those no field took. */
  issues: readonly PathIssue[];
  /** The field each issue was placed at, for its link; absent for those no field took. */
  fieldOf: ReadonlyMap<PathIssue, string>;
  /** Called before jumping to a field (to show the form if the JSON view is open). */
  onJump: () => void;
  containerRef: RefObject<HTMLDivElement | null>;
}

/**
 * Every problem at the top of the editor (GOV.UK's error summary pattern): each links to its field,
 * and problems with no field of their own are spelled out here.
 */
export function ErrorSummary({ issues, fieldOf, onJump, containerRef }: ErrorSummaryProps) {
  if (issues.length === 0) return null;
  const jump = (event: MouseEvent, field: string) => {
    event.preventDefault();
    onJump();
    requestAnimationFrame(() => {
      const target = document.getElementById(fieldId(field));
      target?.scrollIntoView({ block: 'center' });
      target?.focus();
    });
  };
  return (
    <div class="error-summary" role="alert" tabIndex={-1} ref={containerRef} aria-labelledby="error-summary-title">
      <h2 id="error-summary-title" class="error-summary__title">
        {issues.length === 1 ? 'There is a problem to fix' : `There are ${pluralize(issues.length, 'problem')} to fix`}
      </h2>
      <ul class="error-summary__list">
        {issues.map((issue, i) => {
          const field = fieldOf.get(issue);
          const place = placeOf(issue.path);
          return (
            <li key={i}>
              {field ? (
                <a href={`#${fieldId(field)}`} onClick={(e) => jump(e, field)}>
                  {place ? <strong>{place}: </strong> : null}
                  {issue.message}
                </a>
              ) : (
                <span>
                  {issue.path ? <code>{issue.path}</code> : <strong>The rule</strong>}: {issue.message}
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
