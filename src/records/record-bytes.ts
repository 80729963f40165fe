/**
 * The canonical bytes of a whole record, fast. Pure (the caches below only remember results).
 *
 * A record's envelope always has the same nine keys, and RFC 8785 puts them in this order:
 * boot_id, host, kind, mono_ns, observed_at, payload, seq, source, v. Writing them in that order
 * directly gives exactly canonicalBytes(record) at a fraction of the cost on the store's append
 * path (a property test in test/unit/record-bytes.test.ts holds the two to identical bytes).
 *
 * Where the time went, and what is remembered instead (measured with scripts/bench/store.mjs):
 * - sorting a payload's keys cost more than serialising it: the sorted order is kept per kind (a
 *   few shapes of it, most recently used first) and reused for a payload of that kind with the same
 *   keys in the same insertion order;
 * - building the text: every piece of a record (envelope, payload, nested `extra`) goes into one
 *   list joined once, so a record makes one flat string and no intermediate ones;
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
  /** For each sorted key, its index in `keys` (where its value is in the list readKeys fills). */
  order: number[];
}

/**
 * The shapes seen per shape key (a kind, or a kind and a member), most recently used first: a
 * kind's payloads come in a few shapes (optional members present or not) that alternate record by
 * record, and each change of shape used to list and sort the keys again.
 */
const shapes = new Map<string, Shape[]>();
/** Shapes kept per shape key. */
const SHAPES_PER_KEY = 8;
let shapeCount = 0;

function newShape(kind: string, keys: string[]): Shape | undefined {
  const sorted = [...keys].sort();
  const keyTexts: string[] = [];
  const firstKeyTexts: string[] = [];
  for (const key of sorted) {
    const text = stringText(key);
    if (text === undefined) return undefined;
    keyTexts.push(`,${text}:`);
    firstKeyTexts.push(`{${text}:`);
  }
  // bounded: kinds (and their nested members) are few, but `kind` here is any string
  if (shapeCount >= 256) {
    shapes.clear();
    shapeCount = 0;
  }
  const shape: Shape = {
    keys,
    sorted,
    firstKeyTexts,
    keyTexts,
    memos: sorted.map(() => new Memo()),
    nestedKeys: sorted.map((key) => `${kind}\u0000${key}`),
    order: sorted.map((key) => keys.indexOf(key)),
  };
  let list = shapes.get(kind);
  if (list === undefined) {
    list = [];
    shapes.set(kind, list);
  }
  list.unshift(shape);
  shapeCount++;
  if (list.length > SHAPES_PER_KEY) {
    list.pop();
    shapeCount--;
  }
  return shape;
}

/**
 * Whether `obj`'s own enumerable keys are `keys`, in that order (checked without listing them);
 * their values go into `values` as they are read, in that order.
 */
function readKeys(obj: Record<string, unknown>, keys: readonly string[], values: unknown[]): boolean {
  // for…in walks the same own keys in the same order as Object.keys, without making a list, and
  // reads each value from where the walk finds it (no lookup by name); an enumerable inherited
  // key (a polluted prototype) makes it differ, and then Object.keys decides.
  let i = 0;
  for (const key in obj) {
    if (keys[i] !== key) return false;
    values[i++] = obj[key];
  }
  return i === keys.length;
}

/**
 * The shape of `obj` under `shapeKey`, with `obj`'s values in `values` in the order of its keys:
 * one known when `obj` has its keys in its order, else a new one.
 */
function shapeFor(shapeKey: string, obj: Record<string, unknown>, values: unknown[]): Shape | undefined {
  const list = shapes.get(shapeKey);
  if (list !== undefined) {
    for (let i = 0; i < list.length; i++) {
      const known = list[i] as Shape;
      if (!readKeys(obj, known.keys, values)) continue;
      if (i > 0) {
        // most recently used first
        list[i] = list[0] as Shape;
        list[0] = known;
      }
      return known;
    }
  }
  const shape = newShape(shapeKey, Object.keys(obj));
  if (shape !== undefined) for (let i = 0; i < shape.keys.length; i++) values[i] = obj[shape.keys[i] as string];
  return shape;
}

/** The values of the object being written, by depth (a payload, an object nested in it): filled by shapeFor. */
const valueLists: unknown[][] = [[], []];

/**
 * The texts of the record being written, joined once at the end (one flat string: no cons string
 * per piece, no string per nested object, nothing to flatten when the batch encodes it). Reused
 * for every record; `used` slots are the current record's.
 */
const parts: string[] = [];
let used = 0;

/**
 * Appends a plain object's canonical text to `parts` through the shape of `shapeKey` (a kind, or
 * a kind and a member for the objects nested in its payloads, such as `extra`, whose keys are as
 * regular as the payload's); false (with `used` back where it was) when it must take the general
 * walk.
 */
function putObjectText(shapeKey: string, payload: unknown, nest: boolean): boolean {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return false;
  const proto: unknown = Object.getPrototypeOf(payload);
  if (proto !== Object.prototype && proto !== null) return false;
  const values = valueLists[nest ? 0 : 1] as unknown[];
  const shape = shapeFor(shapeKey, payload as Record<string, unknown>, values);
  if (shape === undefined) return false;
  const { sorted, keyTexts, firstKeyTexts, memos, nestedKeys, order } = shape;
  const start = used;
  let first = true;
  for (let i = 0; i < sorted.length; i++) {
    const value = values[order[i] as number];
    if (value === undefined) continue; // an undefined member is absent, as in JSON.stringify
    parts[used++] = (first ? firstKeyTexts[i] : keyTexts[i]) as string;
    first = false;
    // if…else on typeof, not switch (typeof value): the switch compiled to a call that makes
    // the type's name and compares strings, a tenth of this function's time.
    let text: string | undefined;
    if (typeof value === 'string') text = (memos[i] as Memo).of(value);
    else if (typeof value === 'number') text = Number.isSafeInteger(value) ? String(value) : undefined;
    else if (typeof value === 'boolean') text = value ? 'true' : 'false';
    else if (typeof value === 'object') {
      // A nested plain object (a payload's `extra`) through its own shape, in place; anything
      // else, and anything deeper, through the general serializer.
      if (value === null) text = 'null';
      else if (nest && !Array.isArray(value) && putObjectText(nestedKeys[i] as string, value, false)) continue;
      else text = canonicalText(value);
    }
    if (text === undefined) {
      used = start;
      return false;
    }
    parts[used++] = text;
  }
  // No member present: '{}'.
  parts[used++] = first ? '{}' : '}';
  return true;
}

/** The parts joined, and the list cleared of them (a much shorter record after a long one gives the room back). */
function joinParts(): string {
  if (parts.length !== used) {
    if (used < parts.length / 2) parts.length = used;
    else for (let i = used; i < parts.length; i++) parts[i] = '';
  }
  const text = parts.join('');
  used = 0;
  return text;
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
  used = 0;
  // Fields in canonical order, so a record with several problems is refused for the first, as before.
  parts[used++] = '{"boot_id":';
  parts[used++] = envelopeString(bootIdMemo, record.boot_id);
  parts[used++] = ',"host":';
  parts[used++] = envelopeString(hostMemo, record.host);
  parts[used++] = ',"kind":';
  parts[used++] = envelopeString(kindMemo, record.kind);
  parts[used++] = ',"mono_ns":';
  parts[used++] = envelopeString(monoMemo, record.mono_ns);
  parts[used++] = ',"observed_at":';
  parts[used++] = envelopeString(observedMemo, record.observed_at);
  parts[used++] = ',"payload":';
  const payloadAt = used;
  let fast: boolean;
  try {
    fast = putObjectText(record.kind, record.payload, true);
  } catch {
    fast = false; // a nested value was refused: the general walk below names where
  }
  if (!fast) {
    used = payloadAt;
    const text = canonicalText(record.payload);
    parts[used++] = text;
  }
  parts[used++] = ',"seq":';
  parts[used++] = integerText(record.seq);
  parts[used++] = ',"source":';
  parts[used++] = envelopeString(sourceMemo, record.source);
  parts[used++] = ',"v":';
  parts[used++] = integerText(record.v);
  parts[used++] = '}';
  return joinParts();
}

export function recordBytes(record: EvidenceRecord): Uint8Array {
  return Buffer.from(recordText(record), 'utf8');
}
