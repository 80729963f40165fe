#!/usr/bin/env node
/**
 * The composition root: argv → command functions → exit codes. The only file that wires agent/
 * and collector/ together, reads process.argv or calls process.exit.
 *
 * Exit codes: 0 success / valid, 1 integrity failure, 2 usage or I/O error.
 */
import type { CollectProgress } from '../collector/collect.js';
import { Command, CommanderError } from 'commander';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromFlags, configHash, configWarnings, loadConfig, LOG_LEVELS, redactConfig, type AgentConfig, type LogLevel } from '../agent/config.js';
import { enrollStore } from '../agent/enroll.js';
import { DEFAULT_CONFIG_PATH, DEFAULT_STORE_DIR, defaultServiceSpec, installService, launchdPlist, readmeBeside, superusersOnThisHost, systemdUnit } from '../agent/install.js';
import { CustodyError, ErrorCodes, isCustodyError, messageOf, type ErrorCode } from './errors.js';
import { systemClock } from './clock.js';
import { escapeForTerminal, terminalJson, terminalLines } from './text/terminal.js';
import { custodyVersion } from './version.js';

export const EXIT_OK = 0;
export const EXIT_INTEGRITY = 1;
export const EXIT_USAGE_OR_IO = 2;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('custody')
    .description('Preserve log evidence in a tamper-evident store, collect it into sealed bundles, and verify them.')
    .version(custodyVersion())
    .exitOverride()
    .showHelpAfterError();

  const keys = program.command('keys').description('manage signing keys');
  keys
    .command('init')
    .description("create an agent's evidence store and its enrollment key (--store), or a personal signing key for collecting and handing over bundles (--out); prints the fingerprint to record")
    .option('--store <dir>', 'store folder to create')
    .option('--host <name>', 'host name recorded in every record (default: this machine)')
    .option('--out <file>', 'personal key: the private key file to create (mode 0600); the public key goes to FILE.pub')
    .option('--name <name>', 'personal key: a display name recorded in FILE.pub')
    .action(async (opts: { store?: string; host?: string; out?: string; name?: string }) => {
      if ((opts.store === undefined) === (opts.out === undefined)) throw new CustodyError(ErrorCodes.USAGE, 'give exactly one of --store DIR (an agent store) or --out FILE (a personal key)');
      if (opts.out !== undefined) {
        const { initPersonalKey } = await import('../collector/handoff.js');
        const key = initPersonalKey(opts.out, opts.name);
        process.stdout.write(
          `created personal key ${key.privatePath} (private, mode 0600) and ${key.publicPath} (public)\n` +
            `fingerprint: ${key.fingerprint}\n` +
            'Give the fingerprint (or the .pub file) to whoever will verify what you sign; keep the private file to yourself.\n',
        );
        return;
      }
      const enrollment = enrollStore(opts.store as string, opts.host === undefined ? {} : { host: opts.host });
      process.stdout.write(
        `created store ${opts.store} for host ${enrollment.host}\n` +
          `enrollment key fingerprint: ${enrollment.fingerprint}\n` +
          'Record this fingerprint somewhere the host cannot change: examiners pin it with `custody verify --key`.\n',
      );
    });

  program
    .command('verify')
    .description('verify a store, a bundle folder or a bundle .tar without trusting it; exit 0 valid, 1 integrity failure, 2 usage or I/O error')
    .argument('[path]', 'store folder, bundle folder or bundle .tar (with --vault and --host: none, the vault alone)')
    .option('--key <fingerprint|file>', 'store: trusted enrollment key: its SHA256:… fingerprint or an enrollment.pub file')
    .option('--vault <s3-url>', 'store: also check it against what its agent shipped to this vault (s3://BUCKET[/PREFIX]); without a store, verify --host from the vault alone')
    .option('--host <name>', 'with --vault and no store: the host whose shipped store to verify')
    .option('--store-id <id>', 'with --vault --host: only this store of the host (a re-enrolled host has several)')
    .option('--endpoint <url>', 'with --vault: S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS); path-style addressing')
    .option('--collector-key <fingerprint>', "bundle: the collector key's SHA256:… fingerprint the bundle must be sealed with")
    .option('--agent-key <fingerprint>', "bundle: a pinned enrollment fingerprint; every store in the bundle must be enrolled with one; repeatable", collect)
    .option('--custody-key <fingerprint>', 'bundle: a key allowed to sign custody entries; when given, any other is an error; repeatable', collect)
    .option('--custody-head <index:sha256>', 'bundle: the custody head recorded at the last handoff (detects entries cut from the end)')
    .option('--tsa-ca <file>', 'trusted TSA root certificate (PEM or DER); repeatable', collect)
    .option('--json', 'print the result as JSON')
    .option('--strict', 'every warning fails the verification too (exit 1)')
    .option('--deep', "also prove every record canonical JSON valid against its kind's schema (default: integrity only, which is what the seals prove)")
    .action(async (path: string | undefined, given: { key?: string; collectorKey?: string; agentKey?: string[]; custodyKey?: string[]; custodyHead?: string; tsaCa?: string[]; json?: boolean; strict?: boolean; deep?: boolean; vault?: string; host?: string; storeId?: string; endpoint?: string }) => {
      const opts = { ...given, ...(await checkedPins(given)) };
      const { verificationFails } = await import('./verify/format.js');
      if (opts.vault === undefined && (opts.host !== undefined || opts.storeId !== undefined || opts.endpoint !== undefined)) {
        throw new CustodyError(ErrorCodes.USAGE, '--host, --store-id and --endpoint are for verifying against a vault: give --vault s3://BUCKET');
      }
      if (path === undefined) {
        if (opts.vault === undefined || opts.host === undefined) throw new CustodyError(ErrorCodes.USAGE, 'give a store or bundle to verify, or --vault s3://BUCKET --host NAME to verify a host from the vault alone');
        quietSdk();
        const [{ verifyVaultHost }, { formatStoreVerification }] = await Promise.all([import('../collector/verify-vault.js'), import('./verify/format.js')]);
        const results = await verifyVaultHost(
          { url: opts.vault, env: process.env, ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}) },
          { host: opts.host, ...(opts.storeId !== undefined ? { storeId: opts.storeId } : {}), ...(opts.key !== undefined ? { key: opts.key } : {}), ...(opts.tsaCa !== undefined ? { tsaCa: opts.tsaCa } : {}) },
        );
        process.stdout.write(opts.json ? terminalJson(results) : results.map((r) => formatStoreVerification(r, { strict: opts.strict === true })).join('\n'));
        setExit(results.some((r) => verificationFails(r, { strict: opts.strict === true })) ? EXIT_INTEGRITY : EXIT_OK);
        return;
      }
      if (opts.host !== undefined || opts.storeId !== undefined) throw new CustodyError(ErrorCodes.USAGE, '--host and --store-id name a store in the vault when no store folder is given; a store folder names its own host', { where: path });
      if (isBundlePath(path)) {
        if (opts.vault !== undefined) throw new CustodyError(ErrorCodes.USAGE, '--vault checks a store folder (or, with --host, the vault alone); a bundle carries its own seals', { where: path });
        if (opts.key !== undefined) throw new CustodyError(ErrorCodes.USAGE, 'for a bundle, pin keys with --collector-key and --agent-key (--key is for a store folder)', { where: path });
        let head: { index: number; sha256: string } | undefined;
        if (opts.custodyHead !== undefined) {
          const m = /^(0|[1-9]\d*):([0-9a-f]{64})$/.exec(opts.custodyHead.trim());
          if (m === null) throw new CustodyError(ErrorCodes.USAGE, `--custody-head must be INDEX:SHA256 as handoff prints it, got ${JSON.stringify(opts.custodyHead)}`);
          head = { index: Number(m[1]), sha256: m[2] as string };
        }
        const { verifyBundle, formatBundleVerification } = await import('../collector/verify-bundle.js');
        const result = await removingTempFoldersOnExit(() =>
          verifyBundle(path, {
            ...(opts.tsaCa !== undefined ? { tsaCa: opts.tsaCa } : {}),
            ...(opts.collectorKey !== undefined ? { collectorKey: opts.collectorKey } : {}),
            ...(opts.agentKey !== undefined ? { agentKeys: opts.agentKey } : {}),
            ...(opts.custodyKey !== undefined ? { custodyKeys: opts.custodyKey } : {}),
            ...(head ? { custodyHead: head } : {}),
            deep: opts.deep === true,
          }),
        );
        process.stdout.write(opts.json ? terminalJson(result) : formatBundleVerification(result));
        if (opts.strict && result.ok && verificationFails(result, { strict: true })) process.stdout.write(opts.json ? '' : 'strict:       a warning fails the verification (--strict)\n');
        setExit(verificationFails(result, { strict: opts.strict === true }) ? EXIT_INTEGRITY : EXIT_OK);
        return;
      }
      if (opts.collectorKey !== undefined || opts.agentKey !== undefined || opts.custodyKey !== undefined || opts.custodyHead !== undefined) {
        throw new CustodyError(ErrorCodes.USAGE, '--collector-key, --agent-key, --custody-key and --custody-head are for a bundle; this is not one (no manifest.json)', { where: path });
      }
      // Commands load their modules when they run: the agent stays small without the verifier's PKI code.
      const { verifyStoreDir } = await import('../collector/verify.js');
      const { formatStoreVerification } = await import('./verify/format.js');
      const pins = { ...(opts.key !== undefined ? { key: opts.key } : {}), ...(opts.tsaCa !== undefined ? { tsaCa: opts.tsaCa } : {}), deep: opts.deep === true };
      let result;
      if (opts.vault !== undefined) {
        quietSdk();
        const { verifyStoreWithVault } = await import('../collector/verify-vault.js');
        result = await verifyStoreWithVault(path, { url: opts.vault, env: process.env, ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}) }, pins);
      } else result = await verifyStoreDir(path, pins);
      process.stdout.write(opts.json ? terminalJson(result) : formatStoreVerification(result, { strict: opts.strict === true }));
      setExit(verificationFails(result, { strict: opts.strict === true }) ? EXIT_INTEGRITY : EXIT_OK);
    });

  const agent = program.command('agent').description('the evidence agent: a foreground process or a system service');
  agent
    .command('run')
    .description('run the agent in the foreground until SIGTERM/SIGINT (then it seals a final checkpoint and exits 0)')
    .option('--config <file>', 'agent configuration (YAML or JSON)')
    .option('--store <dir>', 'quick start: store folder (created with its keys on first run)')
    .option('--watch <glob>', 'quick start: a file or glob to preserve; repeatable', collect)
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')}`)
    .action(async (opts: { config?: string; store?: string; watch?: string[]; logLevel?: string }) => {
      const config = withLogLevel(agentConfigFrom(opts), opts.logLevel);
      // As for `custody vault`: the pinned SDK's notice about later releases is not for the agent's log.
      if (config.vault) process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
      const [{ createLogger }, { runAgent }] = await Promise.all([import('../agent/logger.js'), import('../agent/run.js')]);
      const logger = createLogger({ level: config.logLevel });
      const controller = new AbortController();
      let signals = 0;
      const onSignal = (name: NodeJS.Signals): void => {
        signals++;
        if (signals === 1) {
          controller.abort(name);
          return;
        }
        process.stderr.write(`custody: ${name} again while stopping; exiting without a final checkpoint\n`);
        process.exit(EXIT_USAGE_OR_IO);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        await runAgent(config, {
          logger,
          clock: systemClock,
          signal: controller.signal,
          // The vault's S3 client reads endpoint, region and keys the AWS SDK's way (the config holds no secret).
          env: process.env,
          onEnrolled: (enrollment) => {
            process.stdout.write(
              `created store ${config.store} for host ${enrollment.host}\n` +
                `enrollment key fingerprint: ${enrollment.fingerprint}\n` +
                'Record this fingerprint somewhere the host cannot change: examiners pin it with `custody verify --key`.\n',
            );
          },
        });
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });

  agent
    .command('check-config')
    .description('validate an agent configuration; exit 0 valid, 2 invalid (every problem is listed)')
    .argument('<file>', 'agent configuration (YAML or JSON)')
    .option('--json', 'print the effective configuration as JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const config = loadConfig(file);
      const warnings = configWarnings(config);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ok: true, config_sha256: configHash(config), config: redactConfig(config), warnings }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${file}: valid\nconfig sha256: ${configHash(config)}\n`);
      for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
      process.stdout.write(`effective configuration:\n${JSON.stringify(redactConfig(config), null, 2)}\n`);
    });

  agent
    .command('status')
    .description("a store's records, checkpoints, sources, gaps and agent state; safe while the agent runs")
    .requiredOption('--store <dir>', 'store folder')
    .option('--json', 'print the status as JSON')
    .action(async (opts: { store: string; json?: boolean }) => {
      const { agentStatus, formatAgentStatus } = await import('../agent/status.js');
      const report = agentStatus(opts.store);
      process.stdout.write(opts.json ? terminalJson(report) : formatAgentStatus(report, Date.now()));
    });

  agent
    .command('install')
    .description('install the agent as a hardened system service (systemd unit or launchd daemon)')
    .option('--systemd', 'write /etc/systemd/system/custody-agent.service')
    .option('--launchd', `write the launchd daemon plist`)
    .option('--print', 'print the service definition instead of installing it')
    .option('--config <file>', 'configuration the service runs with', DEFAULT_CONFIG_PATH)
    .option('--store <dir>', 'store folder the service may write (default: the one in --config, else /var/lib/custody)')
    .option('--user <name>', 'the service user', 'custody')
    .option('--allow-root', 'let --user be root (or another uid-0 name); refused without it')
    .action((opts: { systemd?: boolean; launchd?: boolean; print?: boolean; config: string; store?: string; user: string; allowRoot?: boolean }) => {
      if (Boolean(opts.systemd) === Boolean(opts.launchd)) throw new CustodyError(ErrorCodes.USAGE, 'give exactly one of --systemd or --launchd');
      const kind = opts.systemd ? 'systemd' : 'launchd';
      const cliPath = realpathSync(fileURLToPath(import.meta.url));
      const spec = defaultServiceSpec({
        nodePath: process.execPath,
        cliPath,
        configPath: resolvePath(opts.config),
        storeDir: opts.store !== undefined ? resolvePath(opts.store) : existsSync(opts.config) ? loadConfig(opts.config).store : DEFAULT_STORE_DIR,
        user: opts.user,
        allowRoot: opts.allowRoot === true,
        superusers: superusersOnThisHost(),
        readmePath: readmeBeside(cliPath),
      });
      if (opts.print) {
        process.stdout.write(kind === 'systemd' ? systemdUnit(spec) : launchdPlist(spec));
        return;
      }
      const result = installService(kind, spec);
      process.stdout.write(`${result.written.map((f) => `wrote ${f}`).join('\n')}\nnext:\n${result.nextSteps.map((s) => `  ${s}`).join('\n')}\n`);
    });

  agent
    .command('audit-rules')
    .description('print the auditd rules that make the kernel record access to a path (for /etc/audit/rules.d/)')
    .requiredOption('--path <path>', 'absolute path of a file or folder to watch; repeatable', collect)
    .option('--key <key>', 'audit key the events carry (default custody-file-access)')
    .option('--style <style>', 'watch (-w, default) or syscall (-a always,exit … -S …)', 'watch')
    .option('--kind <kind>', 'syscall style: dir or file (default: what the path is on this machine)')
    .option('--machine <arch>', 'syscall style: x86_64 or aarch64 (default: this machine)')
    .action(async (opts: { path: string[]; key?: string; style: string; kind?: string; machine?: string }) => {
      const { auditRulesForPath } = await import('./parsers/audit-rules.js');
      if (opts.style !== 'watch' && opts.style !== 'syscall') throw new CustodyError(ErrorCodes.USAGE, `--style must be watch or syscall, not ${JSON.stringify(opts.style)}`);
      if (opts.kind !== undefined && opts.kind !== 'dir' && opts.kind !== 'file') throw new CustodyError(ErrorCodes.USAGE, `--kind must be dir or file, not ${JSON.stringify(opts.kind)}`);
      if (opts.machine !== undefined && opts.machine !== 'x86_64' && opts.machine !== 'aarch64') throw new CustodyError(ErrorCodes.USAGE, `--machine must be x86_64 or aarch64, not ${JSON.stringify(opts.machine)}`);
      const machine = (opts.machine ?? (process.arch === 'arm64' ? 'aarch64' : 'x86_64')) as 'x86_64' | 'aarch64';
      const text = opts.path.map((path) => {
        let kind = opts.kind as 'dir' | 'file' | undefined;
        if (opts.style === 'syscall' && kind === undefined) {
          if (!existsSync(path)) throw new CustodyError(ErrorCodes.USAGE, 'does not exist here, so custody cannot tell a folder from a file: give --kind dir or --kind file', { where: path });
          kind = statSync(path).isDirectory() ? 'dir' : 'file';
        }
        return auditRulesForPath(path, { style: opts.style as 'watch' | 'syscall', ...(opts.key !== undefined ? { key: opts.key } : {}), ...(kind !== undefined ? { kind } : {}), machine });
      });
      process.stdout.write(text.join(''));
    });

  program
    .command('import')
    .description('preserve files taken from another machine (logs, .evtx, setupapi.dev.log, wtmp, .gz) in a store and read them into typed evidence')
    .requiredOption('--store <dir>', 'store folder (created when --host is given and there is none)')
    .option('--host <name>', 'the machine the files came from (required to create the store)')
    .option('--json', 'print the summary as JSON')
    .option('--preserve-again', 'store a file again even when the store holds the same content from an earlier import (recorded as a deliberate second copy; its evidence is not derived twice)')
    .argument('<file...>', 'files to import')
    .action(async (files: string[], opts: { store: string; host?: string; json?: boolean; preserveAgain?: boolean }) => {
      const { importFiles, formatImportSummary } = await import('../collector/import.js');
      const summary = importFiles(opts.store, files, { ...(opts.host === undefined ? {} : { host: opts.host }), ...(opts.preserveAgain ? { preserveAgain: true } : {}) });
      process.stdout.write(opts.json ? terminalJson(summary) : formatImportSummary(summary));
      if (!summary.complete && summary.incomplete !== undefined) {
        const { error, path } = summary.incomplete;
        throw new CustodyError(error.code as ErrorCode, `import incomplete at ${path}: ${error.message}; run the same command again to finish it`, { where: error.where ?? opts.store });
      }
    });

  program
    .command('collect')
    .description('freeze what agent stores hold (and, with --triage, this host\'s logs) into a sealed, verifiable bundle')
    .requiredOption('--case <id>', 'case id, e.g. IR-2026-014')
    .option('--store <dir>', 'a store folder, or a folder of stores copied from other hosts; repeatable', collect)
    .option('--vault <s3-url>', 'collect hosts from the evidence vault (s3://BUCKET[/PREFIX]), with --host or --all-hosts; combinable with --store')
    .option('--host <name>', 'with --vault: a host to collect (all its stores); repeatable', collect)
    .option('--all-hosts', 'with --vault: every host the vault holds')
    .option('--since <time>', 'with --vault: only the vault segments that can hold records observed from this time (ISO 8601 with a zone, e.g. 2026-12-05T09:30:00+09:00); the bundle verifies as that window')
    .option('--until <time>', 'with --vault: only the vault segments that can hold records observed up to this time (ISO 8601 with a zone)')
    .option('--endpoint <url>', 'with --vault: S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS); path-style addressing')
    .option('--triage', "also preserve this host's logs now (the agent configuration's watch globs, else the usual /var/log files)")
    .option('--agent-config <file>', `triage: the agent configuration whose watch globs name the logs (default ${DEFAULT_CONFIG_PATH} when it exists)`)
    .option('--examiner <name>', 'who collects, "NAME, ORG" (recorded in the manifest and the first custody entry)')
    .option('--note <text>', 'a note recorded in the manifest')
    .option('--tsa <url>', 'RFC 3161 time-stamping authority for manifest.tsr')
    .option('--tsa-ca <file>', "the TSA's root certificate: the token is checked before it is kept, and the stores' tokens are verified with it; repeatable", collect)
    .option('--key <file>', "the collector's personal key (custody keys init --out); without it a key is made for this collection")
    .requiredOption('--out <dir>', 'bundle folder to create')
    .option('--tar', 'also write <out>.tar (deterministic)')
    .option('--report', 'write the draft investigation report into report/ before sealing (the default; kept for scripts that ask for it)')
    .option('--no-report', 'leave the draft report out of the bundle (`custody report BUNDLE` can still make one later)')
    .option('--lang <en|ja>', 'report: one language (report.md, report.html); default both (report.* in English, report.ja.* in Japanese)')
    .option('--sensitive <path-glob>', 'report: files whose access matters, e.g. "/srv/share/customers/**"; repeatable', collect)
    .option('--discovered-at <iso-time>', 'report: when the incident was discovered, with a zone (PPC deadlines count from it)')
    .option('--working-hours <HH-HH>', 'report: working hours, local time, Monday to Friday (e.g. 09-18)')
    .option('--utc-offset <±hh:mm>', 'report: the local time of --working-hours', '+09:00')
    .option('--internal-range <cidr>', 'report: an internal address range (IPv4 or IPv6 CIDR); repeatable; replaces the default (RFC 1918, loopback, link-local, IPv6 ULA): uploads and CONNECTs to other addresses are "outside"', collect)
    .option('--upload-threshold <bytes>', 'report: an upload of at least this many bytes to an outside host is a pattern (e.g. 10MiB, 500KB; default 10MiB)')
    .option('--user-of-interest <name>', 'report: "What ran" is about the programs this user ran (alice, CONTOSO\\alice, auid=1001); repeatable; the rest is counted, and the patterns weigh every run', collect)
    .option('--host-of-interest <name>', 'report: "What ran" is about the programs run on this host (web01 or web01.example.jp); repeatable; with --user-of-interest, those users on these hosts', collect)
    .option('--max-events <n>', 'report: most USB, file access, logon, program, upload, file share and agent records it holds in memory (about 0.7 KB each, program records more; default 1000000); past it the bundle is sealed without report/')
    .option('--json', 'print the summary as JSON')
    .action(
      async (opts: { case: string; store?: string[]; triage?: boolean; agentConfig?: string; examiner?: string; note?: string; tsa?: string; tsaCa?: string[]; key?: string; out: string; tar?: boolean; report?: boolean; lang?: string; sensitive?: string[]; discoveredAt?: string; workingHours?: string; utcOffset: string; maxEvents?: string; internalRange?: string[]; uploadThreshold?: string; userOfInterest?: string[]; hostOfInterest?: string[]; vault?: string; host?: string[]; allHosts?: boolean; endpoint?: string; since?: string; until?: string; json?: boolean }) => {
        if (opts.tsaCa !== undefined && opts.tsa === undefined) throw new CustodyError(ErrorCodes.USAGE, '--tsa-ca needs --tsa URL');
        if (opts.vault === undefined && (opts.host !== undefined || opts.allHosts === true || opts.endpoint !== undefined)) {
          throw new CustodyError(ErrorCodes.USAGE, '--host, --all-hosts and --endpoint name hosts in a vault: give --vault s3://BUCKET');
        }
        let window: { since?: string; until?: string } = {};
        if (opts.since !== undefined || opts.until !== undefined) {
          // A window is proven from the vault's segments (each carries the frontier of the records
          // before it); a store folder has no such proof of where a cut begins, so it is refused there.
          if (opts.vault === undefined) throw new CustodyError(ErrorCodes.USAGE, '--since and --until select vault segments: give --vault s3://BUCKET with --host or --all-hosts (store folders are collected whole)');
          window = (await import('../collector/collect-vault.js')).parseWindowFlags(opts.since, opts.until);
        }
        if (opts.vault !== undefined) quietSdk();
        const [{ collectCase, formatCollectSummary, DEFAULT_TRIAGE_PATHS }, { hostname }, { codeHash }] = await Promise.all([
          import('../collector/collect.js'),
          import('node:os'),
          import('./version.js'),
        ]);
        let triage: { paths: string[] } | undefined;
        if (opts.triage) {
          const configPath = opts.agentConfig ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
          triage = { paths: configPath !== undefined ? loadConfig(configPath).sources.files.watch : DEFAULT_TRIAGE_PATHS };
        } else if (opts.agentConfig !== undefined) throw new CustodyError(ErrorCodes.USAGE, '--agent-config is only used with --triage');
        let report: { lang?: 'en' | 'ja'; sensitive?: string[]; discoveredAt?: string; workingHours?: import('../src/report/model.js').WorkingHours; net?: import('../src/report/net-options.js').ReportNetOptions } | false;
        if (opts.report === false) {
          const given = (['lang', 'sensitive', 'discoveredAt', 'workingHours', 'maxEvents', 'internalRange', 'uploadThreshold', 'userOfInterest', 'hostOfInterest'] as const).filter((k) => opts[k] !== undefined);
          if (given.length > 0) throw new CustodyError(ErrorCodes.USAGE, `--no-report leaves the report out, so --${given.map((k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)).join(', --')} would be ignored: drop one or the other`);
          report = false;
        } else {
          const [{ parseWorkingHours }, { reportNetFromFlags }] = await Promise.all([import('../collector/report.js'), import('./report/net-options.js')]);
          report = {
            net: reportNetFromFlags({ ...(opts.internalRange !== undefined ? { internalRange: opts.internalRange } : {}), ...(opts.uploadThreshold !== undefined ? { uploadThreshold: opts.uploadThreshold } : {}), ...(opts.userOfInterest !== undefined ? { userOfInterest: opts.userOfInterest } : {}), ...(opts.hostOfInterest !== undefined ? { hostOfInterest: opts.hostOfInterest } : {}) }),
            ...(opts.lang !== undefined ? { lang: opts.lang as 'en' | 'ja' } : {}),
            ...(opts.maxEvents !== undefined ? { maxEvents: parseMaxEvents(opts.maxEvents) } : {}),
            ...(opts.sensitive !== undefined ? { sensitive: opts.sensitive } : {}),
            ...(opts.discoveredAt !== undefined ? { discoveredAt: opts.discoveredAt } : {}),
            ...(opts.workingHours !== undefined ? { workingHours: parseWorkingHours(opts.workingHours, opts.utcOffset) } : {}),
          };
        }
        const progress = progressReporter(process.stderr);
        const summary = await collectCase(
          {
            caseId: opts.case,
            stores: opts.store ?? [],
            out: opts.out,
            ...(opts.tar ? { tar: true } : {}),
            ...(opts.examiner !== undefined ? { examiner: opts.examiner } : {}),
            ...(opts.note !== undefined ? { note: opts.note } : {}),
            ...(opts.tsa !== undefined ? { tsa: { url: opts.tsa, ...(opts.tsaCa ? { caFiles: opts.tsaCa } : {}) } } : {}),
            ...(opts.key !== undefined ? { keyFile: opts.key } : {}),
            ...(triage ? { triage } : {}),
            ...(opts.vault !== undefined
              ? {
                  vault: {
                    access: { url: opts.vault, env: process.env, ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}) },
                    ...(opts.host !== undefined ? { hosts: opts.host } : {}),
                    ...(opts.allHosts === true ? { allHosts: true } : {}),
                    ...window,
                  },
                }
              : {}),
            report,
          },
          { clock: systemClock, collectorHost: hostname(), version: custodyVersion(), codeSha256: codeHash(), onProgress: progress.update },
        );
        progress.end();
        process.stdout.write(opts.json ? terminalJson(summary) : formatCollectSummary(summary));
      },
    );

  program
    .command('report')
    .description('write the investigation report of a bundle (5W1H, patterns, integrity, PPC deadlines) as Markdown and self-contained HTML, outside the sealed bundle; exit 1 (report written) when the bundle does not verify')
    .argument('<bundle>', 'bundle folder or .tar')
    .option('--lang <en|ja>', 'one language (report.md, report.html); default both (report.* in English, report.ja.* in Japanese)')
    .option('--discovered-at <iso-time>', 'when the incident was discovered, with a zone (e.g. 2026-11-21T10:30:00+09:00): the PPC deadlines count from it')
    .option('--sensitive <path-glob>', 'files whose access matters (customer data…), e.g. "/srv/share/customers/**"; repeatable', collect)
    .option('--working-hours <HH-HH>', 'working hours in local time, Monday to Friday (e.g. 09-18): activity outside them is a pattern')
    .option('--utc-offset <±hh:mm>', 'the local time of --working-hours', '+09:00')
    .option('--usb-window <minutes>', 'a sensitive read this long before a USB storage connection counts as followed by it', '60')
    .option('--internal-range <cidr>', 'an internal address range (IPv4 or IPv6 CIDR); repeatable; replaces the default (RFC 1918, loopback, link-local, IPv6 ULA): uploads and CONNECTs to other addresses are "outside"', collect)
    .option('--upload-threshold <bytes>', 'an upload of at least this many bytes to an outside host is a pattern (e.g. 10MiB, 500KB; default 10MiB)')
    .option('--user-of-interest <name>', '"What ran" is about the programs this user ran (alice, CONTOSO\\alice, auid=1001); repeatable; the rest is counted, and the patterns weigh every run', collect)
    .option('--host-of-interest <name>', '"What ran" is about the programs run on this host (web01 or web01.example.jp); repeatable; with --user-of-interest, those users on these hosts', collect)
    .option('--out <dir>', 'folder for the report (default: <bundle>-report beside the bundle; never inside it)')
    .option('--max-events <n>', 'most USB, file access, logon, program, upload, file share and agent records the report holds in memory (about 0.7 KB each, program records more); more is an error (default 1000000)')
    .option('--collector-key <fingerprint>', 'verify: the collector key the bundle must be sealed with')
    .option('--agent-key <fingerprint>', 'verify: a pinned enrollment fingerprint; every store in the bundle must be enrolled with one; repeatable', collect)
    .option('--tsa-ca <file>', 'verify: trusted TSA root certificate; repeatable', collect)
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        bundle: string,
        given: { lang?: string; discoveredAt?: string; sensitive?: string[]; workingHours?: string; utcOffset: string; usbWindow: string; out?: string; maxEvents?: string; internalRange?: string[]; uploadThreshold?: string; userOfInterest?: string[]; hostOfInterest?: string[]; collectorKey?: string; agentKey?: string[]; tsaCa?: string[]; json?: boolean },
      ) => {
        const opts = { ...given, ...(await checkedPins(given)) };
        const { writeReport, formatReportSummary, parseWorkingHours } = await import('../collector/report.js');
        const usbWindow = Number(opts.usbWindow);
        if (!Number.isInteger(usbWindow) || usbWindow < 0) throw new CustodyError(ErrorCodes.USAGE, `--usb-window must be a whole number of minutes, got ${JSON.stringify(opts.usbWindow)}`);
        if (opts.lang !== undefined && opts.lang !== 'en' && opts.lang !== 'ja') throw new CustodyError(ErrorCodes.USAGE, `--lang must be en or ja, got ${JSON.stringify(opts.lang)}`);
        const maxEvents = opts.maxEvents !== undefined ? parseMaxEvents(opts.maxEvents) : undefined;
        const { reportNetFromFlags } = await import('./report/net-options.js');
        const net = reportNetFromFlags({ ...(opts.internalRange !== undefined ? { internalRange: opts.internalRange } : {}), ...(opts.uploadThreshold !== undefined ? { uploadThreshold: opts.uploadThreshold } : {}), ...(opts.userOfInterest !== undefined ? { userOfInterest: opts.userOfInterest } : {}), ...(opts.hostOfInterest !== undefined ? { hostOfInterest: opts.hostOfInterest } : {}) });
        const summary = await removingTempFoldersOnExit(() =>
          writeReport(
            bundle,
            {
              ...(opts.lang !== undefined ? { lang: opts.lang as 'en' | 'ja' } : {}),
              ...(opts.discoveredAt !== undefined ? { discoveredAt: opts.discoveredAt } : {}),
              ...(opts.sensitive !== undefined ? { sensitive: opts.sensitive } : {}),
              ...(opts.workingHours !== undefined ? { workingHours: parseWorkingHours(opts.workingHours, opts.utcOffset) } : {}),
              usbWindowMinutes: usbWindow,
              ...(maxEvents !== undefined ? { maxEvents } : {}),
              net,
              ...(opts.out !== undefined ? { out: opts.out } : {}),
              verify: {
                ...(opts.collectorKey !== undefined ? { collectorKey: opts.collectorKey } : {}),
                ...(opts.agentKey !== undefined ? { agentKeys: opts.agentKey } : {}),
                ...(opts.tsaCa !== undefined ? { tsaCa: opts.tsaCa } : {}),
              },
            },
            { clock: systemClock },
          ),
        );
        process.stdout.write(opts.json ? terminalJson(summary) : formatReportSummary(summary));
        // The report is written either way (its section 1 names the problems); the exit code says the bundle did not verify.
        setExit(summary.verified ? EXIT_OK : EXIT_INTEGRITY);
      },
    );

  program
    .command('handoff')
    .description("append a signed entry to a bundle's custody log; prints the new head to record")
    .argument('<bundle>', 'bundle folder')
    .requiredOption('--action <action>', 'transferred, received, examined or returned')
    .requiredOption('--actor <"NAME, ORG">', 'who acts, e.g. "Aiko Sato, Example Forensics KK"')
    .requiredOption('--key <file>', 'your personal key (custody keys init --out)')
    .option('--note <text>', 'what happened (media, seal numbers, where)')
    .option('--json', 'print the result as JSON')
    .action(async (bundle: string, opts: { action: string; actor: string; key: string; note?: string; json?: boolean }) => {
      const { handoff } = await import('../collector/handoff.js');
      const { filePin } = await import('./integrity/pins.js');
      filePin('--key', opts.key);
      const r = handoff({ bundle, action: opts.action, actor: opts.actor, keyFile: opts.key, ...(opts.note !== undefined ? { note: opts.note } : {}) }, systemClock);
      process.stdout.write(
        opts.json
          ? terminalJson(r)
          : terminalLines([
              `${r.action} by ${r.actor} (key ${r.fingerprint})`,
              `custody head: ${r.head.index}:${r.head.sha256}`,
              `Record this head: \`custody verify ${bundle} --custody-head ${r.head.index}:${r.head.sha256}\` detects entries removed after it.`,
            ]),
      );
    });

  // --- the evidence vault (issue 12) ---
  const vault = program.command('vault').description('the evidence vault: S3 with Object Lock that holds seals and evidence off the hosts');
  vault
    .command('init')
    .description('create the bucket with Object Lock and a default retention, or check an existing one; refuses a bucket that cannot lock')
    .argument('<vault>', 's3://BUCKET[/PREFIX]')
    .option('--retention <days>', 'default retention of every object, in days or years (365d, 7y)', '365d')
    .option('--mode <mode>', 'compliance (no one can delete before retention ends) or governance (privileged users can)', 'compliance')
    .option('--endpoint <url>', 'S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS); path-style addressing')
    .option('--json', 'print the result as JSON')
    .action(async (url: string, opts: { retention: string; mode: string; endpoint?: string; json?: boolean }) => {
      quietSdk();
      const { vaultInit, formatVaultInit } = await import('../collector/vault.js');
      const r = await vaultInit({ url, retention: opts.retention, mode: opts.mode, env: process.env, ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}) });
      process.stdout.write(opts.json ? terminalJson(r) : formatVaultInit(r));
    });
  vault
    .command('hosts')
    .description('every host and store in the vault, its newest checkpoint and how long ago the vault received it')
    .argument('<vault>', 's3://BUCKET[/PREFIX]')
    .option('--endpoint <url>', 'S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS); path-style addressing')
    .option('--json', 'print the result as JSON')
    .action(async (url: string, opts: { endpoint?: string; json?: boolean }) => {
      quietSdk();
      const { vaultHosts, formatVaultHosts } = await import('../collector/vault.js');
      const r = await vaultHosts({ url, env: process.env, ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}) }, systemClock.nowMs());
      process.stdout.write(opts.json ? terminalJson(r) : formatVaultHosts(r));
    });

  vault
    .command('release')
    .description("lift the legal holds a case placed on vault objects (those another open case still holds stay held) and record the release in the vault")
    .argument('<vault>', 's3://BUCKET[/PREFIX]')
    .requiredOption('--case <id>', 'the case whose holds to lift')
    .option('--key <file>', "the collector's personal key (custody keys init --out) that signs the release record; without it a key is made for this release")
    .option('--examiner <name>', 'who releases, "NAME, ORG" (recorded in the release record)')
    .option('--endpoint <url>', 'S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS); path-style addressing')
    .option('--json', 'print the result as JSON')
    .action(async (url: string, opts: { case: string; key?: string; examiner?: string; endpoint?: string; json?: boolean }) => {
      quietSdk();
      const [{ releaseCase, formatRelease }, { generatePersonalKey, parsePersonalPrivateKey }, { hostname }, { readFileSync }] = await Promise.all([
        import('../collector/vault-case.js'),
        import('./bundle/personal-key.js'),
        import('node:os'),
        import('node:fs'),
      ]);
      let key;
      if (opts.key !== undefined) {
        let pem: string;
        try {
          pem = readFileSync(opts.key, 'utf8');
        } catch (err) {
          throw new CustodyError(ErrorCodes.IO, `cannot read the collector key: ${(err as Error).message}`, { where: opts.key });
        }
        key = parsePersonalPrivateKey(pem, opts.key);
      } else key = generatePersonalKey();
      const actor = opts.examiner !== undefined && /, \S/.test(opts.examiner) ? opts.examiner : `${opts.examiner ?? 'custody vault release'}, ${hostname()}`;
      const { formatTimestamp } = await import('./records/schema.js');
      const r = await releaseCase(
        { url, env: process.env, ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}), caseId: opts.case, actor, privateKey: key.privateKey },
        formatTimestamp(systemClock.nowMs()),
      );
      process.stdout.write(opts.json ? terminalJson({ ...r, signed_by: key.fingerprint }) : `${formatRelease(r)}  signed by ${key.fingerprint}${opts.key === undefined ? ' (made for this release)' : ''}\n`);
    });

  return program;
}

/**
 * Our @aws-sdk range is pinned to releases that support Node 20 (package.json); its notice that later
 * releases will not is not for custody's users.
 */
function quietSdk(): void {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
}

/**
 * The pins of verify and report, each well-formed or a usage error (src/integrity/pins.ts): an
 * empty `--collector-key ""` must never fall back to the keys shipped with the evidence.
 */
async function checkedPins(opts: { key?: string; collectorKey?: string; agentKey?: string[]; custodyKey?: string[]; tsaCa?: string[] }): Promise<{
  key?: string;
  collectorKey?: string;
  agentKey?: string[];
  custodyKey?: string[];
  tsaCa?: string[];
}> {
  const { filePin, fingerprintOrFilePin, fingerprintPin, publicKeyPin } = await import('./integrity/pins.js');
  return {
    ...(opts.key !== undefined ? { key: fingerprintOrFilePin('--key', opts.key) } : {}),
    ...(opts.collectorKey !== undefined ? { collectorKey: publicKeyPin('--collector-key', opts.collectorKey) } : {}),
    ...(opts.agentKey !== undefined ? { agentKey: opts.agentKey.map((v) => fingerprintPin('--agent-key', v)) } : {}),
    ...(opts.custodyKey !== undefined ? { custodyKey: opts.custodyKey.map((v) => fingerprintPin('--custody-key', v)) } : {}),
    ...(opts.tsaCa !== undefined ? { tsaCa: opts.tsaCa.map((v) => filePin('--tsa-ca', v)) } : {}),
  };
}

/**
 * Runs a command that may hold temporary folders (a bundle .tar extracted to verify it or to report
 * on it). The folders are removed on every way out: the command's own finally on return and error,
 * the 'exit' hook when something crashes past it, and SIGINT/SIGTERM/SIGHUP, after which the
 * process ends as the signal would have ended it (exit status 128+n).
 */
async function removingTempFoldersOnExit<T>(work: () => Promise<T>): Promise<T> {
  const { removeAllTempFolders } = await import('./fs/temp-folder.js');
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onExit = (): void => {
    removeAllTempFolders();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    for (const s of signals) process.off(s, onSignal);
    removeAllTempFolders();
    process.kill(process.pid, signal);
  };
  process.on('exit', onExit);
  for (const s of signals) process.on(s, onSignal);
  try {
    return await work();
  } finally {
    for (const s of signals) process.off(s, onSignal);
    process.off('exit', onExit);
  }
}

/** `--max-events` of report and collect: a positive whole number. */
function parseMaxEvents(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new CustodyError(ErrorCodes.USAGE, `--max-events must be a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}

/** A bundle is a folder with manifest.json, or a file (its .tar); anything else is a store folder. */
function isBundlePath(path: string): boolean {
  try {
    const st = statSync(path);
    if (st.isFile()) return true;
    return st.isDirectory() && existsSync(resolvePath(path, 'manifest.json'));
  } catch {
    return false;
  }
}


/** One rewritten line on a TTY (stores, records, bytes, ETA); a plain line per stage otherwise. */
function progressReporter(stream: NodeJS.WriteStream): { update: (p: CollectProgress) => void; end: () => void } {
  const tty = stream.isTTY === true;
  let lastStage = '';
  let lastDraw = 0;
  let stageStart = Date.now();
  let drawn = false;
  const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
  return {
    update: (p) => {
      if (p.line !== undefined) {
        // A line of its own (one per host read from the vault): above the redrawn progress line on a terminal.
        stream.write(`${tty && drawn ? '\r\u001b[2K' : ''}collect: ${escapeForTerminal(p.line)}\n`);
        drawn = false;
      }
      if (p.stage !== lastStage) {
        stageStart = Date.now();
        if (!tty) stream.write(`collect: ${p.stage}${p.detail ? ` ${escapeForTerminal(p.detail)}` : ''} (stores ${p.storesDone}/${p.storesTotal}, records ${p.records}/${p.recordsTotal}, ${mib(p.bytes)})\n`);
        lastStage = p.stage;
      }
      if (!tty) return;
      const now = Date.now();
      if (now - lastDraw < 100 && p.stage !== 'done') return;
      lastDraw = now;
      const [done, total] = p.stage === 'hash' ? [p.bytes, p.bytesTotal] : p.stage === 'timeline' ? [p.records, p.recordsTotal] : [p.storesDone, p.storesTotal];
      const elapsed = (now - stageStart) / 1000;
      const eta = done > 0 && total > done && elapsed > 0.5 ? ` ETA ${Math.ceil(((total - done) * elapsed) / done)}s` : '';
      const line = `${p.stage}: stores ${p.storesDone}/${p.storesTotal}, records ${p.records}/${p.recordsTotal}, ${mib(p.bytes)}/${mib(p.bytesTotal)}${eta}`;
      stream.write(`\r\u001b[2K${line.slice(0, (stream.columns ?? 100) - 1)}`);
      drawn = true;
    },
    end: () => {
      if (tty && drawn) stream.write('\n');
    },
  };
}

function agentConfigFrom(opts: { config?: string; store?: string; watch?: string[] }): AgentConfig {
  if (opts.config !== undefined) {
    if (opts.store !== undefined || opts.watch !== undefined) throw new CustodyError(ErrorCodes.USAGE, 'give either --config or --store with --watch, not both');
    return loadConfig(opts.config);
  }
  if (opts.store === undefined || opts.watch === undefined) throw new CustodyError(ErrorCodes.USAGE, 'give --config FILE, or --store DIR with at least one --watch GLOB');
  return configFromFlags({ store: opts.store, watch: opts.watch });
}

function withLogLevel(config: AgentConfig, level: string | undefined): AgentConfig {
  if (level === undefined) return config;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new CustodyError(ErrorCodes.USAGE, `--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return { ...config, logLevel: level as LogLevel };
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; everything else commander rejects is a usage error.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT_OK : EXIT_USAGE_OR_IO;
    }
    if (isCustodyError(err)) {
      // Messages and places can quote a hostile bundle or store: escaped like everything else printed
      // from evidence, on one line. A configuration's problems are one per line (`path: message`), and
      // the file is the administrator's own, not evidence: each of its lines is escaped on its own.
      const text = `${err.message}${err.where ? ` (${err.where})` : ''}`;
      const shown = err.code === ErrorCodes.CONFIG_INVALID ? text.split('\n').map(escapeForTerminal).join('\n') : escapeForTerminal(text);
      process.stderr.write(`custody: ${shown} [${err.code}]\n`);
      return err.code === ErrorCodes.STORE_CORRUPT ? EXIT_INTEGRITY : EXIT_USAGE_OR_IO;
    }
    process.stderr.write(`custody: unexpected error: ${escapeForTerminal(messageOf(err))}\n`);
    if (process.env['CUSTODY_DEBUG']) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return EXIT_USAGE_OR_IO;
  }
}

function isEntryPoint(): boolean {
  const invoked = process.argv[1];
  if (invoked === undefined) return false;
  try {
    // npm's bin link is a symlink to this file: compare real paths.
    return realpathSync(invoked) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// Run only when executed, not when imported by tests.
if (isEntryPoint()) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`custody: ${messageOf(err)}\n`);
      process.exitCode = EXIT_USAGE_OR_IO;
    },
  );
}

export { CustodyError };
