#!/usr/bin/env node
// The packages as an npm user gets them: every package is packed with `npm pack`, the tarballs are
// installed in new projects outside the repository, and
//   1. a project with every package, fastify pinned to an older 5.x minor and the optional peers
//      type-checks the TypeScript blocks of every README under `moduleResolution` node16 and bundler
//      (strict), with exactly one fastify in its tree;
//   2. a Twilio-only project (core, channels, cli; no nodemailer, ioredis or adapters) imports the
//      main entries from ESM and CommonJS, and gets the errors naming the package to install from the
//      deprecated SMTP/Redis factories and from a CLI command whose adapter is missing.
//
//   node scripts/consumer-check.mjs [--no-build] [--keep]
//
// --no-build: the packages were just built (`.ci/run` builds before); --keep: leave the projects in
// the temporary directory for a look. Any failure exits non-zero.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allSnippets, snippetFileName } from './readme-snippets.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
for (const arg of args) if (arg !== '--no-build' && arg !== '--keep') fail(`unknown argument ${arg} (known: --no-build, --keep)`);

/** An older fastify 5 minor than the workspace's: a consumer on it must get one copy, and types that fit. */
const OLD_FASTIFY = '~5.0.0';
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const started = Date.now();
function step(name, work) {
  const at = Date.now();
  const result = work();
  console.log(`consumer-check: ${name} (${((Date.now() - at) / 1000).toFixed(1)} s)`);
  return result;
}

function fail(message) {
  console.error(`consumer-check: FAILED: ${message}`);
  process.exit(1);
}

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) fail(`${command} ${commandArgs.join(' ')}: ${result.error.message}`);
  return result;
}

function mustRun(command, commandArgs, options = {}) {
  const result = run(command, commandArgs, options);
  if (result.status !== 0) fail(`${command} ${commandArgs.join(' ')} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  return result;
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const rootPackage = readJson(join(ROOT, 'package.json'));
/** The range the workspace uses for a third-party package, so the npm cache already has it. */
function workspaceRange(name) {
  for (const dir of ['.', ...readdirSync(join(ROOT, 'packages')).map((d) => `packages/${d}`)]) {
    const file = join(ROOT, dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = readJson(file);
    const range = pkg.devDependencies?.[name] ?? pkg.dependencies?.[name];
    if (range) return range;
  }
  fail(`no workspace package depends on ${name}`);
}

const packageDirs = readdirSync(join(ROOT, 'packages'))
  .map((name) => join(ROOT, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')) && !readJson(join(dir, 'package.json')).private);

if (!args.has('--no-build')) step('npm run build', () => mustRun('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' }));
for (const dir of packageDirs) {
  if (!existsSync(join(dir, 'dist', 'index.js'))) fail(`${dir} has no dist/index.js: run npm run build first (or drop --no-build)`);
}

const work = mkdtempSync(join(tmpdir(), 'crm-consumer-check-'));
const tarballDir = join(work, 'tarballs');
mkdirSync(tarballDir);

/** Package name to tarball path. */
const tarballs = step(`npm pack (${packageDirs.length} packages)`, () => {
  const packed = JSON.parse(
    mustRun('npm', ['pack', '--json', '--pack-destination', tarballDir, ...packageDirs.flatMap((dir) => ['--workspace', dir])], { cwd: ROOT }).stdout,
  );
  return Object.fromEntries(packed.map((entry) => [entry.name, join(tarballDir, entry.filename)]));
});

function writeProject(name, dependencies, devDependencies = {}) {
  const dir = join(work, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module', dependencies, devDependencies }, null, 2));
  return dir;
}

function npmInstall(dir) {
  const result = mustRun('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'warn'], { cwd: dir });
  // Shown, not failed on: the warnings of third-party packages (fastify's own tree) are theirs to fix.
  const warnings = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.includes('EBADENGINE') && line.includes('package:'));
  for (const line of warnings) console.log(`consumer-check:   engine warning: ${line.trim()}`);
  return warnings;
}

// 1. Every package, every README example, two module resolutions ------------------------------------
const full = writeProject(
  'full',
  {
    ...Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`])),
    fastify: OLD_FASTIFY,
    ioredis: workspaceRange('ioredis'),
    nodemailer: workspaceRange('nodemailer'),
    '@opentelemetry/api': workspaceRange('@opentelemetry/api'),
    '@opentelemetry/sdk-trace-base': workspaceRange('@opentelemetry/sdk-trace-base'),
  },
  { '@types/node': rootPackage.devDependencies['@types/node'], vitest: rootPackage.devDependencies.vitest },
);
const fullWarnings = step('npm install (every package, fastify ' + OLD_FASTIFY + ')', () => npmInstall(full));
const ours = fullWarnings.filter((line) => line.includes('@crm-automation/'));
if (ours.length > 0) fail(`a package of ours makes npm warn about engines:\n${ours.join('\n')}`);

const fastifyCopies = run('npm', ['ls', 'fastify', '--all', '--parseable'], { cwd: full }).stdout.split('\n').filter(Boolean);
if (fastifyCopies.length !== 1) fail(`expected one fastify in the consumer's tree, found ${fastifyCopies.length}:\n${fastifyCopies.join('\n')}`);
const fastifyVersion = readJson(join(fastifyCopies[0], 'package.json')).version;
if (!fastifyVersion.startsWith('5.0.')) fail(`fastify ${fastifyVersion} installed, expected ${OLD_FASTIFY}`);

const snippets = allSnippets(ROOT);
for (const snippet of snippets) writeFileSync(join(full, 'src', snippetFileName(snippet)), `// ${snippet.file}:${snippet.line}\n${snippet.code}`);
const strict = { target: 'ES2022', lib: ['ES2023'], strict: true, exactOptionalPropertyTypes: true, noEmit: true, skipLibCheck: false, types: ['node'], isolatedModules: true, verbatimModuleSyntax: true };
// Both resolve the same declaration files (the `import` condition), so the second run skips checking
// them again: the node16 run has checked ours and every dependency's.
const resolutions = { node16: { module: 'node16', moduleResolution: 'node16' }, bundler: { module: 'esnext', moduleResolution: 'bundler', skipLibCheck: true } };
for (const [name, options] of Object.entries(resolutions)) {
  writeFileSync(join(full, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions: { ...strict, ...options }, include: ['src'] }, null, 2));
  step(`tsc --noEmit, moduleResolution ${name} (${snippets.length} README blocks)`, () => {
    const result = run(process.execPath, [TSC, '-p', `tsconfig.${name}.json`], { cwd: full });
    if (result.status !== 0) fail(`README examples do not type-check under moduleResolution ${name}:\n${result.stdout}${result.stderr}`);
  });
}

// 2. Twilio only: no nodemailer, no ioredis, no adapters ------------------------------------------------
const slim = writeProject(
  'twilio-only',
  {
    '@crm-automation/core': `file:${tarballs['@crm-automation/core']}`,
    '@crm-automation/channels': `file:${tarballs['@crm-automation/channels']}`,
    '@crm-automation/cli': `file:${tarballs['@crm-automation/cli']}`,
  },
  { '@types/node': rootPackage.devDependencies['@types/node'] },
);
step('npm install (core, channels, cli only)', () => npmInstall(slim));
for (const absent of ['nodemailer', 'ioredis', 'mongodb', 'pg', 'kafkajs', 'amqplib', '@crm-automation/adapter-mongo']) {
  if (existsSync(join(slim, 'node_modules', absent))) fail(`${absent} was installed for a Twilio-only user`);
}
const probe = `
  const channels = MODULE;
  const gateway = channels.createTwilioSms({ accountSid: 'AC0', authToken: 't', from: '+15550001111' });
  if (gateway.name !== 'twilio') throw new Error('unexpected gateway ' + gateway.name);
  for (const [factory, driver] of [['createSmtpEmail', 'nodemailer'], ['createRedisIdempotencyStore', 'ioredis']]) {
    let code;
    try { channels[factory]({ host: 'smtp.example.com', from: 'a@example.com', url: 'redis://127.0.0.1:1' }); } catch (error) { code = error.code; if (!error.message.includes('npm install ' + driver)) throw error; }
    if (code !== 'CRM_ERR_CONFIG') throw new Error(factory + ' without ' + driver + ' did not fail with CRM_ERR_CONFIG');
  }
  console.log('ok');
`;
writeFileSync(join(slim, 'src', 'probe.mjs'), probe.replace('MODULE', "await import('@crm-automation/channels')"));
writeFileSync(join(slim, 'src', 'probe.cjs'), `(async () => {${probe.replace('MODULE', "require('@crm-automation/channels')")}})().catch((error) => { console.error(error); process.exit(1); });`);
step('Twilio-only project: main entries from ESM and CommonJS, clear errors for missing drivers', () => {
  for (const file of ['probe.mjs', 'probe.cjs']) mustRun(process.execPath, [join('src', file)], { cwd: slim });
  const cli = run(process.execPath, [join('node_modules', '@crm-automation', 'cli', 'bin', 'crm-automation.js'), 'triggers', 'list', '--account', 'acc_1', '--mongodb-uri', 'mongodb://127.0.0.1:1'], { cwd: slim });
  const expected = 'error CRM_ERR_CLI_CONFIG: a MongoDB store (MONGODB_URI) needs @crm-automation/adapter-mongo';
  if (cli.status !== 1 || !cli.stderr.includes(expected)) fail(`the CLI without adapter-mongo: exit ${cli.status}, expected 1 and "${expected}"\n${cli.stdout}${cli.stderr}`);
});

// The main entry's types must not name nodemailer or ioredis: checked with skipLibCheck off.
writeFileSync(
  join(slim, 'src', 'twilio.ts'),
  `import { createAutomationEngine } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { createTwilioSms } from '@crm-automation/channels';

const sms = createTwilioSms({ accountSid: 'AC0', authToken: 'token', from: '+15550001111' });
export const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms } });
`,
);
writeFileSync(join(slim, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...strict, ...resolutions.node16 }, include: ['src/*.ts'] }, null, 2));
step('Twilio-only project: tsc --noEmit', () => {
  const result = run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: slim });
  if (result.status !== 0) fail(`a Twilio-only TypeScript project does not type-check:\n${result.stdout}${result.stderr}`);
});

if (args.has('--keep')) console.log(`consumer-check: projects kept in ${work}`);
else rmSync(work, { recursive: true, force: true });
console.log(`consumer-check: passed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
