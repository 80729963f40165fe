#!/usr/bin/env node
/**
 * The composition root: argv → command functions → exit codes. The only file that wires agent/
 * and collector/ together, reads process.argv or calls process.exit.
 *
 * Exit codes: 0 success / valid, 1 integrity failure, 2 usage or I/O error.
 */
import { Command, CommanderError } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { enrollStore } from '../agent/enroll.js';
import { verifyStoreDir } from '../collector/verify.js';
import { CustodyError, ErrorCodes, isCustodyError, messageOf } from './errors.js';
import { formatStoreVerification } from './verify/format.js';
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
    .description("create an agent's evidence store and its enrollment key; prints the fingerprint to record")
    .requiredOption('--store <dir>', 'store folder to create')
    .option('--host <name>', 'host name recorded in every record (default: this machine)')
    .action((opts: { store: string; host?: string }) => {
      const enrollment = enrollStore(opts.store, opts.host === undefined ? {} : { host: opts.host });
      process.stdout.write(
        `created store ${opts.store} for host ${enrollment.host}\n` +
          `enrollment key fingerprint: ${enrollment.fingerprint}\n` +
          'Record this fingerprint somewhere the host cannot change: examiners pin it with `custody verify --key`.\n',
      );
    });

  program
    .command('verify')
    .description('verify a store without trusting it; exit 0 valid, 1 integrity failure, 2 usage or I/O error')
    .argument('<path>', 'store folder')
    .option('--key <fingerprint|file>', 'trusted enrollment key: its SHA256:… fingerprint or an enrollment.pub file')
    .option('--tsa-ca <file>', 'trusted TSA root certificate (PEM or DER); repeatable', collect)
    .option('--json', 'print the result as JSON')
    .action(async (path: string, opts: { key?: string; tsaCa?: string[]; json?: boolean }) => {
      const result = await verifyStoreDir(path, { ...(opts.key ? { key: opts.key } : {}), ...(opts.tsaCa ? { tsaCa: opts.tsaCa } : {}) });
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatStoreVerification(result));
      setExit(result.ok ? EXIT_OK : EXIT_INTEGRITY);
    });

  return program;
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
      process.stderr.write(`custody: ${err.message}${err.where ? ` (${err.where})` : ''} [${err.code}]\n`);
      return err.code === ErrorCodes.STORE_CORRUPT ? EXIT_INTEGRITY : EXIT_USAGE_OR_IO;
    }
    process.stderr.write(`custody: unexpected error: ${messageOf(err)}\n`);
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
