import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..', '..');
const repoRoot = join(packageDir, '..', '..');
export const CHROMIUM = '/usr/bin/chromium';

/** Installs Chromium with scripts/browsers.sh when it is missing; throws (never skips) if that fails. */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  try {
    execFileSync('bash', [join(repoRoot, 'scripts', 'browsers.sh')], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  } catch (error) {
    throw new Error(`Chromium is missing at ${CHROMIUM} and scripts/browsers.sh could not install it: ${String(error)}`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`scripts/browsers.sh ran but ${CHROMIUM} is still missing`);
  return CHROMIUM;
}

/**
 * The tests drive the BUILT package (dist/app and the compiled plugin), as users get it. CI builds
 * before testing; a local run without a build builds once here.
 */
export function ensureBuiltApp(): void {
  const built = ['app/index.html', 'index.js', 'index.cjs'].every((f) => existsSync(join(packageDir, 'dist', f)));
  if (built) return;
  execFileSync('npm', ['run', 'build'], { cwd: packageDir, stdio: 'inherit', timeout: 300_000 });
}

export const distDir = join(packageDir, 'dist');

export interface Browser {
  context: BrowserContext;
  close: () => Promise<void>;
}

/** Headless Debian Chromium with a fresh profile. */
export async function launchBrowser(viewport = { width: 1280, height: 860 }): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'crm-ui-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    locale: 'en-GB',
    timezoneId: 'UTC',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/**
 * Runs axe-core in the page (evaluated through the DevTools protocol, which the page's CSP does not
 * govern) and returns the serious and critical violations.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Page code is written as strings: this file is typechecked without the DOM library.
  const hasAxe = await page.evaluate(`typeof window.axe !== 'undefined'`);
  if (!hasAxe) await page.evaluate(axeSource);
  const options = { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } };
  const violations = (await page.evaluate(`axe.run(document, ${JSON.stringify(options)}).then((result) =>
    result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`)) as AxeViolation[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Fails with a readable list when a page has serious accessibility problems. */
export function describeViolations(violations: AxeViolation[]): string {
  return violations.map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `  ${n.target.join(' ')}: ${n.failureSummary ?? ''}`).join('\n')}`).join('\n');
}

/** True when the page scrolls sideways: something is wider than the viewport. */
export async function overflowsHorizontally(page: Page): Promise<{ overflow: boolean; scrollWidth: number; clientWidth: number; widest: string[] }> {
  return page.evaluate(`(() => {
    const root = document.documentElement;
    const width = root.clientWidth;
    const widest = [];
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      const rect = el.getBoundingClientRect();
      if (rect.right > width + 1 && rect.width > 0 && getComputedStyle(el).visibility !== 'hidden') {
        widest.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + String(el.className).split(' ').join('.') + ' right=' + Math.round(rect.right));
      }
    }
    return { overflow: root.scrollWidth > width, scrollWidth: root.scrollWidth, clientWidth: width, widest: widest.slice(0, 8) };
  })()`);
}
