// One file: the command tree (every command, flag and its help text) is read as the CLI's one reference;
// each command's work lives in src/commands/, this file only wires flags to it.
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { checkOptions, DELIVERY_STATES, isAutomationError, MAX_ENTITY_KEY_LENGTH, optionKeys, TRIGGER_STATUSES, type DeliveryState, type TriggerStatus } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { CliError } from './cli-error.js';
import { listDeadLetters, printDeadLetters, printReplay, replayDeadLetters, type DeadLetterSelection } from './commands/dead-letters.js';
import { listDeliveries, printDeliveries } from './commands/deliveries-list.js';
import { printResolve, resolveDelivery, type DeliveryResolution } from './commands/deliveries-resolve.js';
import { printDelivery, showDelivery } from './commands/deliveries-show.js';
import { ensureIndexes, printIndexReports } from './commands/ensure-indexes.js';
import { printPurge, purgeTriggers } from './commands/purge.js';
import { exportRules } from './commands/rules-export.js';
import { getContactPolicy, printContactPolicy, printSetContactPolicy, setContactPolicy } from './commands/contact-policy.js';
import {
  addSuppression,
  EXPORT_FORMATS,
  exportSuppressionChanges,
  listSuppressions,
  lookupSuppression,
  printLookup,
  printSuppressionChange,
  printSuppressionChanges,
  printSuppressions,
  removeSuppression,
  type ExportFormat,
} from './commands/suppressions.js';
import { checkRulesFile, importRules, printImport, printRulesFileCheck } from './commands/rules-import.js';
import { bulkTransition, printBulkResult, type BulkOperation } from './commands/triggers-bulk.js';
import { inspectTrigger, printTrigger } from './commands/triggers-inspect.js';
import { listTriggers, printTriggers } from './commands/triggers-list.js';
import { Connections, createCliEngine, type BusKind, type CliConnections, type ConnectionSettings } from './connections.js';
import type { ContactPort } from './stores/require-contact-ports.js';
import { DEFAULT_DATABASE_NAME, STORE_KINDS, type StoreKind } from './stores/store-backend.js';
import { parseDate, parseDuration } from './duration.js';
import { createConsoleOutput, type Output } from './output.js';

/** Streams and connection factory of one CLI run; tests inject their own. */
export interface CliIo {
  stdout?: NodeJS.WritableStream | undefined;
  stderr?: (NodeJS.WritableStream & { isTTY?: boolean | undefined }) | undefined;
  /** Opens connections from the resolved settings; default {@link Connections}. */
  connect?: ((settings: ConnectionSettings) => CliConnections) | undefined;
}

const CLI_IO_KEYS = optionKeys<CliIo>()('stdout', 'stderr', 'connect');

interface GlobalOptions {
  store?: StoreKind;
  mongodbUri?: string;
  db?: string;
  postgresUrl?: string;
  schema?: string;
  rabbitmqUrl?: string;
  kafkaBrokers?: string;
  actionTypes?: string[];
  allowPrivateWebhooks?: boolean;
  json?: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer (0: no policy stored yet)');
  return n;
}

/** The engine for the suppression or contact policy commands: checked for the store's port when the connections can. */
const contactEngine = (connections: CliConnections, port: ContactPort) => (connections.contactEngine ? connections.contactEngine(port) : connections.engine());

function list(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

function statuses(value: string, previous: TriggerStatus[] = []): TriggerStatus[] {
  const wanted = list(value);
  const unknown = wanted.filter((s) => !(TRIGGER_STATUSES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown status ${unknown.join(', ')} (known: ${TRIGGER_STATUSES.join(', ')})`);
  return [...previous, ...(wanted as TriggerStatus[])];
}

/** An entity key as the engine stores it: a non-empty string of at most MAX_ENTITY_KEY_LENGTH characters. */
function entityKey(value: string): string {
  if (value.length === 0 || value.length > MAX_ENTITY_KEY_LENGTH) throw new InvalidArgumentError(`expected an entity key of 1 to ${MAX_ENTITY_KEY_LENGTH} characters`);
  return value;
}

function deliveryStates(value: string, previous: DeliveryState[] = []): DeliveryState[] {
  const wanted = list(value);
  const unknown = wanted.filter((s) => !(DELIVERY_STATES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown state ${unknown.join(', ')} (known: ${DELIVERY_STATES.join(', ')})`);
  return [...previous, ...(wanted as DeliveryState[])];
}

/** Who resolves a delivery when `--by` is not given: the CLI and the OS user, for the delivery's events and the engine's log. */
function defaultOperator(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    // No passwd entry for the uid (some containers).
    return 'cli';
  }
}

/** The package's version, from its package.json one level up from both src/ and dist/ (ESM or CJS). */
function cliVersion(): string {
  const load = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
  return (load('../package.json') as { version: string }).version;
}

/** What `contact-policy get --json` adds to the document (the store's fields), so its output can be set again. */
function withoutStoreFields(document: unknown): unknown {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return document;
  const { accountId: _account, version: _version, updatedAt: _updated, ...policy } = document as Record<string, unknown>;
  return policy;
}

/** Empty values (`MONGODB_URI=`) mean "not set", as in the services. */
const noStoreGiven = (settings: ConnectionSettings) => settings.store === undefined && !settings.mongodbUri && !settings.postgresUrl;

function reportError(output: Output, error: unknown): void {
  const code = error instanceof CliError || isAutomationError(error) ? error.code : 'CRM_ERR_CLI_FAILED';
  const message = error instanceof Error ? error.message : String(error);
  const details = error instanceof CliError ? error.details : (error as { issues?: unknown } | null)?.issues;
  if (output.json) {
    output.out(JSON.stringify({ error: { code, message, ...(details === undefined ? {} : { details }) } }, null, 2));
    return;
  }
  output.err(`error ${code}: ${message}`);
  if (Array.isArray(details)) {
    for (const issue of details as Array<{ path?: string; code?: string; message?: string }>) output.err(`  ${issue.path || '(root)'}: ${issue.message ?? ''}${issue.code ? ` [${issue.code}]` : ''}`);
  }
}

/**
 * The `crm-automation` command tree. Each action resolves settings (flags, then the environment),
 * runs one programmatic command (`src/commands/*`) and closes its connections; failures are printed
 * as `error CODE: message` (or `{ "error": ... }` with `--json`) and set a non-zero exit code.
 */
export function createCliProgram(io: CliIo = {}): { program: Command; exitCode: () => number } {
  checkOptions('createCliProgram', io, CLI_IO_KEYS);
  let exitCode = 0;
  const program = new Command('crm-automation');
  program
    .description('Admin CLI of the CRM automation engine: dead letters, triggers, deliveries, suppressions, contact policy, rules, indexes and retention, on MongoDB or PostgreSQL.')
    .version(cliVersion(), '-V, --version', 'print the version of @crm-automation/cli')
    .addOption(new Option('--store <kind>', 'the store the services use (default: the one whose address is given)').choices(STORE_KINDS).env('STORE'))
    .addOption(new Option('--mongodb-uri <uri>', 'MongoDB connection string').env('MONGODB_URI'))
    .addOption(new Option('--db <name>', `MongoDB database name (default: the one in the URI, else ${DEFAULT_DATABASE_NAME})`).env('MONGODB_DB'))
    .addOption(new Option('--postgres-url <url>', 'PostgreSQL connection string').env('POSTGRES_URL'))
    .addOption(new Option('--schema <name>', `PostgreSQL schema of the tables (default ${DEFAULT_DATABASE_NAME})`).env('POSTGRES_SCHEMA'))
    .addOption(new Option('--rabbitmq-url <url>', 'RabbitMQ URL').env('RABBITMQ_URL'))
    .addOption(new Option('--kafka-brokers <list>', 'Kafka brokers, comma-separated').env('KAFKA_BROKERS'))
    .option('--action-types <types>', 'custom action types rules may use besides sms, email, webhook (comma-separated)', list)
    .option('--allow-private-webhooks', 'accept rule webhook URLs on private networks (as services with allowPrivateNetworks do)')
    .option('--json', 'print results as JSON')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void (io.stdout ?? process.stdout).write(text),
      writeErr: (text) => void (io.stderr ?? process.stderr).write(text),
    });

  /** Runs one command with its output and connections; errors become the exit code. */
  const run = <A extends unknown[]>(work: (ctx: { output: Output; connections: CliConnections; global: GlobalOptions; settings: ConnectionSettings }, ...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const global = command.optsWithGlobals<GlobalOptions>();
      const output = createConsoleOutput({ json: global.json, stdout: io.stdout, stderr: io.stderr });
      const settings: ConnectionSettings = {
        store: global.store,
        mongodbUri: global.mongodbUri,
        db: global.db,
        postgresUrl: global.postgresUrl,
        schema: global.schema,
        rabbitmqUrl: global.rabbitmqUrl,
        kafkaBrokers: global.kafkaBrokers,
        actionTypes: global.actionTypes,
        allowPrivateWebhooks: global.allowPrivateWebhooks,
      };
      // Only the connection flags of the subcommand; its other flags are the command's own.
      const { exchange, queuePrefix, topic } = command.opts<{ exchange?: string; queuePrefix?: string; topic?: string }>();
      if (exchange !== undefined) settings.exchange = exchange;
      if (queuePrefix !== undefined) settings.queuePrefix = queuePrefix;
      if (topic !== undefined) settings.topic = topic;
      // Made on first use: a command that needs no store or bus (an offline dry run) opens nothing.
      let connections: CliConnections | undefined;
      const connect = io.connect ?? ((s: ConnectionSettings) => new Connections(s));
      const ctx = {
        output,
        global,
        settings,
        get connections(): CliConnections {
          connections ??= connect(settings);
          return connections;
        },
      };
      try {
        await work(ctx, ...(args.slice(0, -1) as A));
      } catch (error) {
        reportError(output, error);
        exitCode = 1;
      } finally {
        await connections?.close();
      }
    };

  // dead-letters ------------------------------------------------------------------------------
  const deadLetters = program.command('dead-letters').description('inspect and replay events the intake gave up on');
  const busOptions = (command: Command) =>
    command
      .addOption(new Option('--bus <kind>', 'the services bus').choices(['rabbitmq', 'kafka']).makeOptionMandatory())
      .option('--group <name>', 'consumer group (repeatable or comma-separated); RabbitMQ default automation-intake, Kafka default every group', list)
      .option('--account <id>', 'only dead letters of this account')
      .option('--limit <n>', 'at most this many', positiveInt)
      .option('--exchange <name>', 'RabbitMQ exchange, if not crm-automation.events')
      .option('--queue-prefix <prefix>', 'RabbitMQ queue prefix, if not crm-automation')
      .option('--topic <name>', 'Kafka event topic, if not crm-automation.events');
  const selectionOf = (options: { bus: BusKind; group?: string[]; account?: string; limit?: number }): DeadLetterSelection => ({
    groups: options.group ?? (options.bus === 'rabbitmq' ? ['automation-intake'] : undefined),
    accountId: options.account,
    limit: options.limit,
  });
  busOptions(deadLetters.command('list').description('list dead letters: when, which group, account, event and why'))
    .addHelpText('after', '\nExample:\n  crm-automation dead-letters list --bus rabbitmq --account acc_12345')
    .action(
      run(async ({ output, connections }, options: { bus: BusKind; group?: string[]; account?: string; limit?: number }) => {
        printDeadLetters(output, await listDeadLetters(connections.deadLetters(options.bus), selectionOf(options)));
      }),
    );
  busOptions(deadLetters.command('replay').description('move dead letters back to the queue of the group that gave up on them'))
    .option('--dry-run', 'print what would move, move nothing')
    .addHelpText('after', '\nRun with --dry-run first; intake de-duplicates by event id, so a replayed event never makes a second trigger.\n\nExample:\n  crm-automation dead-letters replay --bus kafka --account acc_12345 --dry-run')
    .action(
      run(async ({ output, connections }, options: { bus: BusKind; group?: string[]; account?: string; limit?: number; dryRun?: boolean }) => {
        printReplay(output, await replayDeadLetters(connections.deadLetters(options.bus), { ...selectionOf(options), dryRun: options.dryRun }, output));
      }),
    );

  // triggers ----------------------------------------------------------------------------------
  const triggers = program.command('triggers').description('inspect, retry and cancel triggers');
  /** The flags `triggers list`, `retry` and `cancel` select triggers by, and the selection they make. */
  type TriggerFilterFlags = { account: string; status?: TriggerStatus[]; rule?: string; entity?: string; from?: string; to?: string };
  const triggerFilterOptions = (command: Command, statusHelp: string, entityHelp: string) =>
    command
      .option('--status <list>', statusHelp, statuses)
      .option('--rule <id>', 'only triggers of this rule')
      .option('--entity <key>', entityHelp, entityKey)
      .option('--from <date>', 'only triggers due at or after this ISO date')
      .option('--to <date>', 'only triggers due before this ISO date');
  const triggerFilterOf = (options: TriggerFilterFlags) => ({
    accountId: options.account,
    statuses: options.status,
    ruleId: options.rule,
    entityKey: options.entity,
    from: options.from === undefined ? undefined : parseDate(options.from, '--from'),
    to: options.to === undefined ? undefined : parseDate(options.to, '--to'),
  });
  triggerFilterOptions(
    triggers.command('list').description("list an account's triggers by status, rule and due time").requiredOption('--account <id>', 'the account whose triggers to list'),
    'only triggers in these statuses',
    "only triggers of this entity (a keyed rule's trigger.key value, e.g. a job id)",
  )
    .option('--limit <n>', 'at most this many (default 50)', positiveInt)
    .action(
      run(async ({ output, connections }, options: TriggerFilterFlags & { limit?: number }) => {
        printTriggers(output, await listTriggers(await connections.engine(), { ...triggerFilterOf(options), limit: options.limit }));
      }),
    );
  triggers
    .command('inspect')
    .description('show a trigger with its execution history')
    .argument('<id>', 'trigger id')
    .requiredOption('--account <id>', 'the account the trigger belongs to')
    .action(
      run(async ({ output, connections }, id: string, options: { account: string }) => {
        printTrigger(output, await inspectTrigger(await connections.engine(), options.account, id));
      }),
    );
  const bulk = (operation: BulkOperation, description: string, defaults: string) =>
    triggerFilterOptions(
      triggers.command(operation).description(description).requiredOption('--account <id>', 'the account whose triggers to change'),
      `only triggers in these statuses (default ${defaults})`,
      "only triggers of this entity (a keyed rule's trigger.key value)",
    )
      .option('--dry-run', 'print the matching trigger ids, change nothing')
      .action(
        run(async ({ output, connections }, options: TriggerFilterFlags & { dryRun?: boolean }) => {
          printBulkResult(output, await bulkTransition(await connections.engine(), operation, { ...triggerFilterOf(options), dryRun: options.dryRun }, output));
        }),
      );
  bulk('retry', 'schedule failed triggers again, now, with a fresh attempt budget (the engine refuses any other state)', 'failed');
  bulk('cancel', 'cancel triggers that have not run yet (the engine refuses any other state)', 'pending,retrying');

  // deliveries --------------------------------------------------------------------------------
  const deliveries = program.command('deliveries').description('the delivery ledger: every send from intent to receipt, and resolving unknown ones');
  deliveries
    .command('list')
    .description("list an account's deliveries, newest first: state, provider and its id, recipient, trigger")
    .requiredOption('--account <id>', 'the account whose deliveries to list')
    .option('--trigger <id>', 'only the deliveries of this trigger')
    .option('--state <list>', `only deliveries in these states (${DELIVERY_STATES.join(', ')})`, deliveryStates)
    .option('--recipient <address>', 'only deliveries to this recipient (E.164 number, email address, webhook host)')
    .option('--provider <name>', 'only deliveries through this provider (twilio, sendgrid, ...)')
    .option('--provider-id <id>', "only the delivery with this provider's message id (Twilio SID, SendGrid message id, ...)")
    .option('--limit <n>', 'at most this many (default 50)', positiveInt)
    .addHelpText('after', '\nExample (the CrmDeliveriesUnknown runbook):\n  crm-automation deliveries list --account acc_12345 --state unknown')
    .action(
      run(async ({ output, connections }, options: { account: string; trigger?: string; state?: DeliveryState[]; recipient?: string; provider?: string; providerId?: string; limit?: number }) => {
        const found = await listDeliveries(await connections.deliveryEngine(), {
          accountId: options.account,
          triggerId: options.trigger,
          states: options.state,
          recipient: options.recipient,
          provider: options.provider,
          providerId: options.providerId,
          limit: options.limit,
        });
        printDeliveries(output, found);
      }),
    );
  deliveries
    .command('show')
    .description('show a delivery with its events (intent, provider answer, receipts, operators)')
    .argument('<id>', 'delivery id')
    .requiredOption('--account <id>', 'the account the delivery belongs to')
    .action(
      run(async ({ output, connections }, id: string, options: { account: string }) => {
        printDelivery(output, await showDelivery(await connections.deliveryEngine(), options.account, id));
      }),
    );
  deliveries
    .command('resolve')
    .description("settle an unknown send: --as sent when the provider's console has it, --as resend when it does not")
    .argument('<id>', 'delivery id')
    .requiredOption('--account <id>', 'the account the delivery belongs to')
    .addOption(new Option('--as <resolution>', 'sent: mark it accepted; resend: mark it abandoned and run its trigger again now, sending the action once more').choices(['sent', 'resend']).makeOptionMandatory())
    .option('--note <text>', "why (kept in the delivery's events)")
    .option('--by <name>', 'who resolves it (default cli:<your user name>)')
    .option('--dry-run', 'print what would change, change nothing')
    .addHelpText(
      'after',
      '\nOnly an unknown delivery can be resolved; a resend also needs its trigger finished (not pending,\nretrying or processing). Anything else is refused before it changes.\n\nExample:\n  crm-automation deliveries resolve dlv_123 --account acc_12345 --as resend --note "not in the Twilio console" --dry-run',
    )
    .action(
      run(async ({ output, connections }, id: string, options: { account: string; as: DeliveryResolution; note?: string; by?: string; dryRun?: boolean }) => {
        const result = await resolveDelivery(await connections.deliveryEngine(), {
          accountId: options.account,
          id,
          as: options.as,
          by: options.by ?? defaultOperator(),
          note: options.note,
          dryRun: options.dryRun,
        });
        printResolve(output, result);
      }),
    );

  // rules -------------------------------------------------------------------------------------
  const rules = program.command('rules').description("export and import an account's rules as JSON");
  rules
    .command('export')
    .description("write an account's rules as a rules file (stdout unless --out)")
    .requiredOption('--account <id>', 'the account to export')
    .option('--out <file>', 'write to this file')
    .action(
      run(async ({ output, connections }, options: { account: string; out?: string }) => {
        const file = await exportRules(await connections.engine(), options.account);
        const text = `${JSON.stringify(file, null, 2)}\n`;
        if (options.out === undefined) return output.out(text.trimEnd());
        await writeFile(options.out, text).catch((error: unknown) => {
          throw new CliError('CRM_ERR_CLI_FILE', `cannot write ${options.out}: ${error instanceof Error ? error.message : String(error)}`);
        });
        if (output.json) output.out(JSON.stringify({ file: options.out, rules: file.rules.length }));
        else output.out(`exported ${file.rules.length} rule${file.rules.length === 1 ? '' : 's'} of ${options.account} to ${options.out}`);
      }),
    );
  rules
    .command('import')
    .description('create or update rules from a rules file: validated first, idempotent')
    .requiredOption('--account <id>', 'the account to import into')
    .requiredOption('--in <file>', "the rules file (from rules export, the Rules API's { \"items\": [...] }, or an array of rules)")
    .option('--dry-run', 'print what would be created or updated, change nothing; with no store given, validate the file offline')
    .addHelpText(
      'after',
      '\nEach rule matches an existing one by its "id" when that id exists in the account (re-importing an\nexport), otherwise by its name (which must then be unique in the account). Identical rules are left\nalone, so importing the same file twice changes nothing. Any invalid rule aborts the whole import.\n\nWith --dry-run and no store given (no MONGODB_URI, POSTGRES_URL or --store), the file is validated\noffline, connecting nowhere: every rule checked as the services would, none compared with the rules of the account.\n\nExample:\n  crm-automation rules import --account acc_12345 --in rules.json --dry-run',
    )
    .action(
      run(async (ctx, options: { account: string; in: string; dryRun?: boolean }) => {
        const { output } = ctx;
        let file: unknown;
        try {
          file = JSON.parse(await readFile(options.in, 'utf8')) as unknown;
        } catch (error) {
          throw new CliError('CRM_ERR_CLI_FILE', `cannot read ${options.in} as JSON: ${error instanceof Error ? error.message : String(error)}`);
        }
        if (options.dryRun && noStoreGiven(ctx.settings)) {
          return printRulesFileCheck(output, await checkRulesFile(createCliEngine(createMemoryStore(), ctx.settings), file, output), options.account);
        }
        printImport(output, await importRules(await ctx.connections.engine(), options.account, file, { dryRun: options.dryRun }, output));
      }),
    );

  // suppressions and contact policy ---------------------------------------------------------
  const suppressions = program.command('suppressions').description("the consent ledger: who must not be contacted on which channel, and every change to it");
  type SuppressionFlags = { account: string; channel: string; recipient: string; note?: string; by?: string; dryRun?: boolean };
  const changeOptions = (command: Command, verb: string) =>
    command
      .requiredOption('--account <id>', `the account to ${verb} in`)
      .requiredOption('--channel <type>', 'the action type (sms, email, ...)')
      .requiredOption('--recipient <address>', 'E.164 number for sms, email address for email (normalised as the engine does)')
      .option('--note <text>', 'why (kept in the change log)')
      .option('--by <name>', 'who (default cli:<your user name>)')
      .option('--dry-run', 'print what would change, change nothing');
  suppressions
    .command('list')
    .description("list an account's suppressed recipients, newest first")
    .requiredOption('--account <id>', 'the account whose suppressions to list')
    .option('--channel <type>', 'only this channel (sms, email, ...)')
    .option('--limit <n>', 'at most this many (default 50)', positiveInt)
    .action(
      run(async ({ output, connections }, options: { account: string; channel?: string; limit?: number }) => {
        printSuppressions(output, await listSuppressions(await contactEngine(connections, 'suppressions'), { accountId: options.account, channel: options.channel, limit: options.limit }));
      }),
    );
  suppressions
    .command('lookup')
    .description('say whether a recipient is suppressed on a channel, why, since when and by whom')
    .requiredOption('--account <id>', 'the account to look in')
    .requiredOption('--channel <type>', 'the action type (sms, email, ...)')
    .requiredOption('--recipient <address>', 'E.164 number for sms, email address for email')
    .action(
      run(async ({ output, connections }, options: { account: string; channel: string; recipient: string }) => {
        printLookup(output, await lookupSuppression(await contactEngine(connections, 'suppressions'), options.account, options.channel, options.recipient));
      }),
    );
  changeOptions(suppressions.command('add').description('suppress a recipient on a channel by hand (reason manual, source cli); idempotent'), 'suppress')
    .addHelpText('after', '\nExample:\n  crm-automation suppressions add --account acc_12345 --channel sms --recipient +15557654321 --note "asked by phone" --dry-run')
    .action(
      run(async ({ output, connections }, options: SuppressionFlags) => {
        const request = { accountId: options.account, channel: options.channel, recipient: options.recipient, by: options.by ?? defaultOperator(), note: options.note, dryRun: options.dryRun };
        printSuppressionChange(output, request, await addSuppression(await contactEngine(connections, 'suppressions'), request));
      }),
    );
  changeOptions(suppressions.command('remove').description('lift the suppression of a recipient on a channel (source cli); the change is kept'), 'lift it')
    .action(
      run(async ({ output, connections }, options: SuppressionFlags) => {
        const request = { accountId: options.account, channel: options.channel, recipient: options.recipient, by: options.by ?? defaultOperator(), note: options.note, dryRun: options.dryRun };
        printSuppressionChange(output, request, await removeSuppression(await contactEngine(connections, 'suppressions'), request));
      }),
    );
  suppressions
    .command('export')
    .description('write every add and remove of an account (who or what, when, why), oldest first, for audits')
    .requiredOption('--account <id>', 'the account to export')
    .option('--channel <type>', 'only this channel (sms, email, ...)')
    .addOption(new Option('--format <format>', 'csv (default) or json (the default with --json)').choices(EXPORT_FORMATS))
    .addHelpText('after', `\nCSV columns: at, account, channel, recipient, action (added|removed), reason, source, by, detail.\n\nExample:\n  crm-automation suppressions export --account acc_12345 --format csv > suppressions.csv`)
    .action(
      run(async ({ output, connections, global }, options: { account: string; channel?: string; format?: ExportFormat }) => {
        const changes = await exportSuppressionChanges(await contactEngine(connections, 'suppressions'), { accountId: options.account, channel: options.channel });
        printSuppressionChanges(output, changes, options.format ?? (global.json ? 'json' : 'csv'));
      }),
    );

  const contactPolicy = program.command('contact-policy').description("an account's contact policy: quiet hours, caps and send throttle per channel");
  contactPolicy
    .command('get')
    .description("print an account's contact policy with its version")
    .requiredOption('--account <id>', 'the account whose policy to print')
    .action(
      run(async ({ output, connections }, options: { account: string }) => {
        printContactPolicy(output, options.account, await getContactPolicy(await contactEngine(connections, 'contact-policy'), options.account));
      }),
    );
  contactPolicy
    .command('set')
    .description("replace an account's contact policy with a JSON file, validated by the engine first")
    .requiredOption('--account <id>', 'the account whose policy to replace')
    .requiredOption('--file <file>', 'the policy as JSON (as contact-policy get --json prints it, or the document alone)')
    .option('--expected-version <n>', 'refuse unless the stored policy is at this version (0: none stored yet)', nonNegativeInt)
    .option('--dry-run', 'validate and print what would be stored, change nothing')
    .addHelpText('after', '\nExample:\n  crm-automation contact-policy get --account acc_12345 --json > policy.json\n  crm-automation contact-policy set --account acc_12345 --file policy.json --expected-version 3 --dry-run')
    .action(
      run(async ({ output, connections }, options: { account: string; file: string; expectedVersion?: number; dryRun?: boolean }) => {
        let document: unknown;
        try {
          document = JSON.parse(await readFile(options.file, 'utf8')) as unknown;
        } catch (error) {
          throw new CliError('CRM_ERR_CLI_FILE', `cannot read ${options.file} as JSON: ${error instanceof Error ? error.message : String(error)}`);
        }
        const result = await setContactPolicy(await contactEngine(connections, 'contact-policy'), { accountId: options.account, policy: withoutStoreFields(document), expectedVersion: options.expectedVersion, dryRun: options.dryRun });
        printSetContactPolicy(output, options.account, result);
      }),
    );

  // indexes and retention ---------------------------------------------------------------------
  program
    .command('ensure-indexes')
    .alias('ensure-schema')
    .description('create every index (MongoDB) or table and index (PostgreSQL migrations) the services rely on (safe to repeat)')
    .option('--idempotency-collection <name>', 'idempotency keys collection of the Notification Service (MongoDB; PostgreSQL uses <schema>.idempotency_keys)', 'idempotency_keys')
    .option('--no-idempotency', 'skip the idempotency keys collection')
    .action(
      run(async ({ output, connections }, options: { idempotencyCollection: string; idempotency: boolean }) => {
        printIndexReports(output, await ensureIndexes(await connections.indexTargets(options.idempotency ? options.idempotencyCollection : false), output));
      }),
    );
  program
    .command('purge')
    .description('delete finished triggers older than a retention period')
    .requiredOption('--older-than <age>', 'age since the last update, e.g. 30d, 12h, 2w')
    .option('--status <list>', 'finished statuses to purge (default completed,skipped)', statuses)
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .action(
      run(async ({ output, connections }, options: { olderThan: string; status?: TriggerStatus[]; dryRun?: boolean }) => {
        printPurge(output, await purgeTriggers(connections.retention(), { olderThanMs: parseDuration(options.olderThan), statuses: options.status, dryRun: options.dryRun }));
      }),
    );

  for (const command of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) {
    command.exitOverride().configureOutput(program.configureOutput());
  }
  return { program, exitCode: () => exitCode };
}

/**
 * Runs the CLI on `argv` (as `process.argv`: node, script, args...) and returns the exit code:
 * 0 on success and for `--help`, 1 when a command failed, the usage error's code otherwise.
 */
export async function runCli(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const { program, exitCode } = createCliProgram(io);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  return exitCode();
}
