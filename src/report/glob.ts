/**
 * Path globs for `--sensitive`: `**` any characters (across `/`), `*` any characters but `/`, `?` one
 * character but `/`, `{a,b}` alternatives; everything else literal. A glob ending in `/` or naming a
 * folder with `/**` matches everything under it. Pure.
 */
function escape(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  let inBraces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      inBraces++;
      re += '(?:';
    } else if (c === '}' && inBraces > 0) {
      inBraces--;
      re += ')';
    } else if (c === ',' && inBraces > 0) re += '|';
    else re += escape(c);
  }
  if (glob.endsWith('/')) re += '.*';
  return new RegExp(`^${re}$`);
}

export class GlobSet {
  private readonly res: Array<{ glob: string; re: RegExp }>;
  constructor(readonly globs: readonly string[]) {
    this.res = globs.map((glob) => ({ glob, re: globToRegExp(glob) }));
  }
  /** The first glob that matches `path`, if any. */
  match(path: string): string | undefined {
    for (const { glob, re } of this.res) if (re.test(path)) return glob;
    return undefined;
  }
}
