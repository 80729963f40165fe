/**
 * evtxexport (libevtx-utils) as an oracle for the EVTX tests: runs it and reads its XML output into
 * plain records (ids, time, provider, channel, computer, EventData / flattened UserData).
 */
import { spawnSync } from 'node:child_process';

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// --- a small XML reader for the oracle's output (elements, attributes, text, entities) ------------

interface El {
  name: string;
  attrs: Record<string, string>;
  kids: El[];
  text: string;
}

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e]!;
  });
}

function parseXml(xml: string): El[] {
  const roots: El[] = [];
  const stack: El[] = [];
  const re = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g;
  for (let m = re.exec(xml); m !== null; m = re.exec(xml)) {
    if (m[5] !== undefined) {
      const top = stack[stack.length - 1];
      if (top) top.text += decode(m[5]);
      continue;
    }
    const [, close, name = '', attrText = '', selfClose] = m;
    if (close) {
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(/([\w:.-]+)="([^"]*)"/g)) attrs[a[1]!] = decode(a[2]!);
    const el: El = { name, attrs, kids: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.kids.push(el);
    else roots.push(el);
    if (!selfClose) stack.push(el);
  }
  return roots;
}

export interface OracleRecord {
  recordId: string;
  eventId: string;
  time: string;
  provider: string;
  channel: string;
  computer: string;
  data: Record<string, string>;
}

function toOracleRecord(ev: El): OracleRecord {
  const sys = ev.kids.find((k) => k.name === 'System')!;
  const sub = (n: string): El | undefined => sys.kids.find((k) => k.name === n);
  const data: Record<string, string> = {};
  const put = (k: string, v: string): void => {
    let key = k;
    for (let i = 2; Object.hasOwn(data, key); i++) key = `${k}[${i}]`;
    data[key] = v;
  };
  const eventData = ev.kids.find((k) => k.name === 'EventData');
  if (eventData) {
    let n = 0;
    for (const c of eventData.kids) {
      if (c.name === 'Data' && c.attrs['Name']) put(c.attrs['Name'], c.text);
      else if (c.name === 'Data') put(`Data[${++n}]`, c.text);
      else put(c.name, c.text);
    }
  }
  const userData = ev.kids.find((k) => k.name === 'UserData');
  const top = userData?.kids[0];
  if (top) {
    const attrs = (el: El, key: string): void => {
      for (const [a, v] of Object.entries(el.attrs)) if (a !== 'xmlns' && !a.startsWith('xmlns:')) put(`${key}@${a}`, v);
    };
    attrs(top, '');
    const flat = (el: El, key: string): void => {
      attrs(el, key);
      if (el.kids.length === 0) put(key, el.text);
      for (const k of el.kids) flat(k, `${key}.${k.name}`);
    };
    for (const c of top.kids) flat(c, c.name);
  }
  return {
    recordId: sub('EventRecordID')?.text ?? '',
    eventId: sub('EventID')?.text ?? '',
    time: sub('TimeCreated')?.attrs['SystemTime'] ?? '',
    provider: sub('Provider')?.attrs['Name'] ?? '',
    channel: sub('Channel')?.text ?? '',
    computer: sub('Computer')?.text ?? '',
    data,
  };
}

export function evtxexport(file: string): { records: OracleRecord[]; status: number | null } {
  const r = spawnSync('evtxexport', ['-f', 'xml', file], { maxBuffer: 1 << 30, encoding: 'utf8' });
  const records = parseXml(r.stdout).filter((e) => e.name === 'Event').map(toOracleRecord);
  return { records, status: r.status };
}

