import { parser } from '@prometheus-io/lezer-promql';

// The alert-rule files this repository ships (deploy/prometheus/alerts.yml, alerts/contact-policy.rules.yml)
// are checked the same way: read as promtool reads them, their expressions parsed as PromQL.

/** One alerting rule of a Prometheus rule file. */
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Prometheus rule file: named groups of rules. */
export type AlertRuleFile = { groups: Array<{ name: string; rules: AlertRule[] }> };

/**
 * The metric names a PromQL expression selects and the labels it groups by, from its syntax tree (not
 * a regex over the text), and its syntax errors.
 */
export function analysePromQL(expr: string): { names: string[]; grouping: string[]; errors: string[] } {
  const names: string[] = [];
  const grouping: string[] = [];
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: ${JSON.stringify(expr.slice(Math.max(0, node.from - 10), node.to + 10))}`);
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (id) names.push(expr.slice(id.from, id.to));
      }
      if (node.name === 'GroupingLabels') for (const label of node.node.getChildren('LabelName')) grouping.push(expr.slice(label.from, label.to));
    },
  });
  return { names, grouping, errors };
}
