import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createAutomationMetrics } from '@crm-automation/metrics';
import { analysePromQL, type AlertRuleFile } from './promql-rules.js';

const rulesFile = new URL('../../../deploy/prometheus/alerts.yml', import.meta.url);
const operations = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');

/** The series names a metric family exposes (`_bucket`, `_sum`, `_count` for histograms). */
async function exposedSeries(): Promise<Set<string>> {
  const metrics = createAutomationMetrics({ processMetrics: false });
  const out = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    out.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) out.add(metric.name + suffix);
  }
  return out;
}

describe('deploy/prometheus/alerts.yml', () => {
  const doc = parseYaml(readFileSync(rulesFile, 'utf8')) as AlertRuleFile;
  const rules = doc.groups.flatMap((g) => g.rules);

  it('has the promtool rule-file shape: named groups of alerts with expr, for, severity and a runbook', () => {
    expect(doc.groups.length).toBeGreaterThan(0);
    for (const group of doc.groups) {
      expect(typeof group.name).toBe('string');
      expect(Array.isArray(group.rules)).toBe(true);
    }
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of rules) {
      expect(Object.keys(rule).sort()).toEqual(['alert', 'annotations', 'expr', 'for', 'labels']);
      expect(rule.alert).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      expect(rule.for).toMatch(/^\d+[smhdwy]$/);
      expect(['page', 'ticket']).toContain(rule.labels?.['severity']);
      expect(rule.annotations?.['summary']).toBeTruthy();
      expect(rule.annotations?.['runbook']).toBe(`docs/operations.md#${rule.alert.toLowerCase()}`);
    }
  });

  it('covers the design doc’s three alerts and fire lag', () => {
    const exprs = rules.map((r) => r.expr).join('\n');
    expect(exprs).toContain('crm_triggers_finished_total{status="failed"}');
    expect(exprs).toContain('crm_bus_backlog_messages');
    expect(exprs).toContain('crm_http_requests_total');
    expect(exprs).toContain('crm_trigger_fire_lag_seconds_bucket');
  });

  it('every expression parses as PromQL and every metric it selects is exported', async () => {
    const exposed = await exposedSeries();
    for (const rule of rules) {
      const { names, errors } = analysePromQL(rule.expr);
      expect(errors, rule.alert).toEqual([]);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(exposed.has(name), `${rule.alert} selects ${name}, which no metric exports`).toBe(true);
    }
  });

  it('the parser catches a broken expression (so the check above can fail)', () => {
    expect(analysePromQL('sum(rate(crm_triggers_finished_total[5m])').errors.length).toBeGreaterThan(0);
  });

  it('every alert has a runbook paragraph in docs/operations.md', () => {
    for (const rule of rules) expect(operations, rule.alert).toMatch(new RegExp(`^### ${rule.alert}$`, 'm'));
  });
});
