/**
 * The canonical bytes of a whole record, fast. Pure (the caches below only remember results).
 *
 * A record's envelope always has the same nine keys, and RFC 8785 puts them in this order:
 * boot_id, host, kind, mono_ns, observed_at, payload, seq, source, v. Writing them in that order
 * directly gives exactly canonicalBytes(record) at a fraction of the cost on the store's append
 * path (a property test in test/unit/record-bytes.test.ts holds the two to identical bytes).
 *
 * Where the time went, and what is remembered instead (measured with scripts/bench/store.mjs):
 * - sorting a payload's keys cost more than serialising it: the sorted order is kept per kind and
 *   reused while the next payload of that kind has the same keys in the same insertion order;
 * - scanning strings for characters JSON escapes: most envelope and payload strings (host, boot id,
 *   kind, source, path, dev, ino…) repeat record after record, so each field remembers its last
 *   string and that string's canonical text (compared by ===, usually one pointer compare).
 * Anything the fast path does not handle on its own (nested values are handed to canonicalText,
 * anything refused goes to canonicalText of the whole payload, which names the problem) takes the
 * general serializer, so the output and the errors are the general serializer's.
 */
import { canonicalText, quotedString } from './canonical.js';
import type { EvidenceRecord } from './schema.js';

const stringText = quotedString;

/** Longer strings are not remembered (they rarely repeat, and a 16 MiB line should not stay alive). */
const MEMO_MAX_LENGTH = 1024;

/** One field's last string and its canonical text. */
class Memo {
  private value: string | undefined = undefined;
  private text = '';

  /** The canonical text of `s`, or undefined when it has none. */
  of(s: string): string | undefined {
    if (s === this.value) return this.text;
    const text = stringText(s);
    if (text === undefined || s.length > MEMO_MAX_LENGTH) return text;
    this.value = s;
    this.text = text;
    return text;
  }
}

/** Envelope strings: the canonical text, or the general serializer's error. */
function envelopeString(memo: Memo, value: unknown): string {
  if (typeof value === 'string') {
    const text = memo.of(value);
    if (text !== undefined) return text;
  }
  return canonicalText(value);
}

function integerText(value: unknown): string {
  return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : canonicalText(value);
}

/** A payload shape: its keys in insertion order, and what is needed to write them sorted. */
interface Shape {
  keys: string[];
  /** Keys in RFC 8785 order (UTF-16 code units, which is what the default sort compares). */
  sorted: string[];
  /** `{"key":` for each sorted key (the text in front of its value when it is the first present). */
  firstKeyTexts: string[];
  /** `,"key":` for each sorted key. */
  keyTexts: string[];
  memos: Memo[];
  /** The shape key of a plain object nested under each sorted key. */
  nestedKeys: string[];
  /**
   * The texts of one object being written, joined once at the end: slot 2i holds sorted key i's
   * key text (or '' when absent), 2i + 1 its value text, the last slot the closing brace. Reused
   * for every object of the shape, so writing one makes no string but the result (`+=` made a
   * cons string per piece, most of the garbage of an import's canonical records).
   */
  parts: string[];
}

/** The last shape seen per kind (payloads of one kind are mostly built by one piece of code). */
const shapes = new Map<string, Shape>();

function shapeOf(kind: string, keys: string[]): Shape | undefined {
  const known = shapes.get(kind);
  if (known !== undefined && known.keys.length === keys.length) {
    let same = true;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== known.keys[i]) {
        same = false;
        break;
      }
    }
    if (same) return known;
  }
  const sorted = [...keys].sort();
  const keyTexts: string[] = [];
  const firstKeyTexts: string[] = [];
  for (const key of sorted) {
    const text = stringText(key);
    if (text === undefined) return undefined;
    keyTexts.push(`,${text}:`);
    firstKeyTexts.push(`{${text}:`);
  }
  if (shapes.size >= 256) shapes.clear(); // bounded: kinds (and their nested members) are few, but `kind` here is any string
  const shape: Shape = {
    keys,
    sorted,
    firstKeyTexts,
    keyTexts,
    memos: sorted.map(() => new Memo()),
    nestedKeys: sorted.map((key) => `${kind}\u0000${key}`),
    parts: new Array<string>(2 * sorted.length + 1).fill(''),
  };
  shapes.set(kind, shape);
  return shape;
}

/** The shape of `obj` under `shapeKey`: the one known when `obj` has its keys in its order (checked without listing them), else shapeOf. */
function shapeFor(shapeKey: string, obj: object): Shape | undefined {
  const known = shapes.get(shapeKey);
  if (known !== undefined) {
    // for…in walks the same own keys in the same order as Object.keys, without making a list;
    // an enumerable inherited key (a polluted prototype) makes it differ, and then Object.keys decides.
    const keys = known.keys;
    let i = 0;
    let same = true;
    for (const key in obj) {
      if (keys[i] !== key) {
        same = false;
        break;
      }
      i++;
    }
    if (same && i === keys.length) return known;
  }
  return shapeOf(shapeKey, Object.keys(obj));
}

/** The payload's canonical text without the general walk, or undefined when it must take it. */
function fastPayloadText(kind: string, payload: unknown): string | undefined {
  return fastObjectText(kind, payload, true);
}

/**
 * A plain object's canonical text through the shape of `shapeKey` (a kind, or a kind and a member
 * for the objects nested in its payloads, such as `extra`, whose keys are as regular as the
 * payload's), or undefined when it must take the general walk.
 */
function fastObjectText(shapeKey: string, payload: unknown, nest: boolean): string | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const proto: unknown = Object.getPrototypeOf(payload);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const shape = shapeFor(shapeKey, payload);
  if (shape === undefined) return undefined;
  const obj = payload as Record<string, unknown>;
  const { sorted, keyTexts, firstKeyTexts, memos, nestedKeys, parts } = shape;
  let first = true;
  for (let i = 0; i < sorted.length; i++) {
    const value = obj[sorted[i] as string];
    let text: string | undefined;
    switch (typeof value) {
      case 'undefined':
        // an undefined member is absent, as in JSON.stringify
        parts[2 * i] = '';
        parts[2 * i + 1] = '';
        continue;
      case 'string':
        text = (memos[i] as Memo).of(value);
        break;
      case 'number':
        text = Number.isSafeInteger(value) ? String(value) : undefined;
        break;
      case 'boolean':
        text = value ? 'true' : 'false';
        break;
      case 'object':
        // A nested plain object (a payload's `extra`) through its own shape; anything else, and
        // anything deeper, through the general serializer.
        if (value === null) text = 'null';
        else text = (nest && !Array.isArray(value) ? fastObjectText(nestedKeys[i] as string, value, false) : undefined) ?? canonicalText(value);
        break;
      default:
        text = undefined;
    }
    if (text === undefined) return undefined;
    parts[2 * i] = (first ? firstKeyTexts[i] : keyTexts[i]) as string;
    parts[2 * i + 1] = text;
    first = false;
  }
  // No member present: '{' and '}' (the empty parts add nothing).
  parts[parts.length - 1] = first ? '{}' : '}';
  return parts.join('');
}

const bootIdMemo = new Memo();
const hostMemo = new Memo();
const kindMemo = new Memo();
const monoMemo = new Memo();
const observedMemo = new Memo();
const sourceMemo = new Memo();

/** The fields of a record's envelope, as the store has them (no record object needed). */
export interface RecordFields {
  v: number;
  seq: number;
  kind: string;
  observed_at: string;
  mono_ns: string;
  boot_id: string;
  host: string;
  source: string;
  payload: unknown;
}

/** The RFC 8785 canonical text of a record; exactly canonicalText(record). */
export function recordText(record: RecordFields): string {
  // Fields in canonical order, so a record with several problems is refused for the first, as before.
  const bootId = envelopeString(bootIdMemo, record.boot_id);
  const host = envelopeString(hostMemo, record.host);
  const kind = envelopeString(kindMemo, record.kind);
  const mono = envelopeString(monoMemo, record.mono_ns);
  const observed = envelopeString(observedMemo, record.observed_at);
  let payload: string | undefined;
  try {
    payload = fastPayloadText(record.kind, record.payload);
  } catch {
    payload = undefined; // a nested value was refused: the general walk below names where
  }
  payload ??= canonicalText(record.payload);
  return `{"boot_id":${bootId},"host":${host},"kind":${kind},"mono_ns":${mono},"observed_at":${observed},"payload":${payload},"seq":${integerText(record.seq)},"source":${envelopeString(sourceMemo, record.source)},"v":${integerText(record.v)}}`;
}

export function recordBytes(record: EvidenceRecord): Uint8Array {
  return Buffer.from(recordText(record), 'utf8');
}
