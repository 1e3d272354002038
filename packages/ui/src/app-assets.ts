import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** One file of the built app, held in memory: the app is a few hundred KiB at most. */
export interface AppAsset {
  body: Buffer;
  /** Gzipped body, when that is smaller. */
  gzip?: Buffer | undefined;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.svg', '.txt', '.map']);

/** The command that builds the app into this package's `dist/app`, run from the repository's root. */
export const BUILD_COMMAND = 'npm run build -w @crm-automation/ui';

/** Whether `root` holds a built app (its `index.html`). */
export function hasBuiltApp(root: string): boolean {
  return existsSync(join(root, 'index.html'));
}

/**
 * Where the built app is: `dist/app` next to the compiled plugin (`dist/index.js`), or, when the
 * plugin runs from source (tests, `tsx`), the package's `dist/app`.
 */
export function defaultAppRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'app'), join(here, '..', 'dist', 'app')];
  return candidates.find(hasBuiltApp) ?? candidates[0] ?? join(here, 'app');
}

export function assetFor(body: Buffer, path: string): AppAsset {
  const ext = extname(path).toLowerCase();
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  let gzip: Buffer | undefined;
  if (COMPRESSIBLE.has(ext) && body.length > 512) {
    const zipped = gzipSync(body, { level: 9 });
    if (zipped.length < body.length) gzip = zipped;
  }
  return { body, gzip, contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream', etag };
}

/** Reads every file under `root` into memory, keyed by its URL path (`assets/index-abc.js`). */
export function loadAppAssets(root: string): Map<string, AppAsset> {
  if (!hasBuiltApp(root)) throw new Error(`managementUi: no built app in ${root} (run \`${BUILD_COMMAND}\`)`);
  const assets = new Map<string, AppAsset>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const key = relative(root, full).split(sep).join('/');
        assets.set(key, assetFor(readFileSync(full), key));
      }
    }
  };
  walk(root);
  return assets;
}
