import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createAutomationMetrics } from '@crm-automation/metrics';
import { analysePromQL, type AlertRuleFile } from './promql-rules.js';

const rulesText = readFileSync(new URL('../alerts/contact-policy.rules.yml', import.meta.url), 'utf8');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { files: string[] };

describe('alerts/contact-policy.rules.yml', () => {
  const doc = parseYaml(rulesText) as AlertRuleFile;
  const rules = doc.groups.flatMap((g) => g.rules);

  it('has the shape of deploy/prometheus/alerts.yml: expr, for, severity, summary, runbook', () => {
    expect(rules.map((r) => r.alert)).toEqual(['CrmSuppressionSpike']);
    for (const rule of rules) {
      expect(Object.keys(rule).sort()).toEqual(['alert', 'annotations', 'expr', 'for', 'labels']);
      expect(rule.for).toMatch(/^\d+[smhdwy]$/);
      expect(['page', 'ticket']).toContain(rule.labels?.['severity']);
      expect(rule.annotations?.['summary']).toBeTruthy();
      expect(rule.annotations?.['runbook']).toBe(`docs/operations.md#${rule.alert.toLowerCase()}`);
    }
  });

  it('parses as PromQL, selects only exported metrics and groups only by labels they carry', async () => {
    const metrics = createAutomationMetrics({ processMetrics: false });
    // The labels a series carries, read back from the exposition of one sample.
    metrics.suppressionChanges.inc({ account_id: 'a', channel: 'sms', action: 'added', reason: 'stop', source: 'inbound-sms' });
    const labelsOf = new Map<string, readonly string[]>();
    for (const metric of await metrics.registry.getMetricsAsJSON()) {
      const [sample] = metric.values;
      if (sample) labelsOf.set(metric.name, Object.keys(sample.labels));
    }
    const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    for (const rule of rules) {
      const { names, grouping, errors } = analysePromQL(rule.expr);
      expect(errors, rule.alert).toEqual([]);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) {
        expect(exported.has(name), `${rule.alert} selects ${name}, which no metric exports`).toBe(true);
        for (const label of grouping) expect(labelsOf.get(name), `${name} has no label ${label}`).toContain(label);
      }
    }
    // The checks above can fail: a broken expression has errors, an unknown label is not carried.
    expect(analysePromQL('sum by (account_id) (rate(crm_suppression_changes_total[15m])').errors.length).toBeGreaterThan(0);
    expect(labelsOf.get('crm_suppression_changes_total')).not.toContain('recipient');
  });

  it('holds the thresholds the README explains: 15 minutes, at least 20, 5x the day before', () => {
    const [rule] = rules;
    expect(rule?.expr).toContain('increase(crm_suppression_changes_total{action="added"}[15m])) >= 20');
    expect(rule?.expr).toMatch(/> 5 \* \(\s*sum by \(account_id\) \(rate\(crm_suppression_changes_total\{action="added"\}\[1d\] offset 15m\)\)/);
  });

  it('is the rule the README shows, and ships in the package', () => {
    const block = /```yaml file=alerts\/contact-policy\.rules\.yml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'README has the rule file in a yaml block').toBeDefined();
    expect(parseYaml(block ?? '')).toEqual(doc);
    expect(packageJson.files).toContain('alerts');
  });
});
