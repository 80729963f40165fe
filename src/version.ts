/**
 * The running custody's version and a hash of its own code, so records and bundles can say
 * exactly which program wrote them.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function findPackageRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    try {
      if (statSync(join(dir, 'package.json')).isFile()) return dir;
    } catch {
      // keep walking up
    }
    dir = dirname(dir);
  }
  return start;
}

const packageRoot = findPackageRoot(here);

export function custodyVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** SHA-256 over the names and bytes of the running code's .js files, in sorted order. */
export function codeHash(): string {
  const root = dirname(here); // dist/ when built, the repo root when run from source
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (name.endsWith('.js')) hash.update(path.slice(root.length)).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  for (const top of ['src', 'agent', 'collector']) {
    try {
      walk(join(root, top));
    } catch {
      // a part that is not there is not hashed
    }
  }
  return hash.digest('hex');
}
