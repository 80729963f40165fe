/**
 * A fast yes-or-don't-know check of a value against a zod schema, compiled once from the schema's
 * own definition (so it follows the schema as it changes): plain closures over typeof, regex and
 * key tests, with none of the issue objects, output copies and per-field context that zod's parse
 * builds. A derived record's payload goes through here on every append, which is most of an
 * import's records, and zod's parse was a large part of an import's CPU.
 *
 * The contract (held by a property test, test/unit/fast-check.test.ts, on arbitrary payloads): the
 * check says true only for values the schema's safeParse accepts, and it says true for the plain
 * JSON data that parsers produce and the schema accepts. Everything else, every invalid value
 * included, gets false and goes to zod, whose messages name the problem. So it may say false where
 * zod would accept (an object with another prototype, a getter, a schema construct it does not
 * know), never true where zod refuses.
 *
 * Supported: strictObject (refinements included), optional, string (regex, min/max length),
 * number (safeint, bounds), boolean, enum, array (min/max length), record of string keys. A schema
 * with anything else compiles to undefined: no fast check, zod decides everything. Pure.
 */
import type { z } from 'zod';

/** True only when the schema would accept `value`; false means "ask the schema". */
export type FastCheck = (value: unknown) => boolean;

/** A construct compile() does not know: no fast check for the schema that holds it. */
class Unsupported extends Error {}

/** zod's internal definition of a schema (stable across zod 4 minor versions; `_zod.def`). */
interface Def {
  type: string;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  shape?: Record<string, { _zod: { def: Def } }>;
  catchall?: { _zod: { def: Def } };
  innerType?: { _zod: { def: Def } };
  element?: { _zod: { def: Def } };
  keyType?: { _zod: { def: Def } };
  valueType?: { _zod: { def: Def } };
  entries?: Record<string, unknown>;
}

interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  value?: number;
  length?: number;
  inclusive?: boolean;
  fn?: (value: unknown) => unknown;
}

function defOf(schema: { _zod: { def: unknown } }): Def {
  return schema._zod.def as Def;
}

function isPlainData(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Length bounds of a string or array schema. */
function lengthBounds(checks: CheckDef[]): { min: number; max: number } {
  let min = 0;
  let max = Infinity;
  for (const c of checks) {
    if (c.check === 'min_length' && typeof c.minimum === 'number') min = Math.max(min, c.minimum);
    else if (c.check === 'max_length' && typeof c.maximum === 'number') max = Math.min(max, c.maximum);
    else if (c.check === 'length_equals' && typeof c.length === 'number') {
      min = Math.max(min, c.length);
      max = Math.min(max, c.length);
    } else throw new Unsupported(`length check ${c.check}`);
  }
  return { min, max };
}

function compileString(def: Def): FastCheck {
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  const patterns: RegExp[] = [];
  const lengthChecks: CheckDef[] = [];
  for (const c of checks) {
    if (c.check === 'string_format' && c.format === 'regex' && c.pattern instanceof RegExp) {
      // A global or sticky regex keeps state between tests; zod resets it, so would we have to.
      if (c.pattern.global || c.pattern.sticky) throw new Unsupported('stateful regex');
      patterns.push(c.pattern);
    } else lengthChecks.push(c);
  }
  const { min, max } = lengthBounds(lengthChecks);
  if (patterns.length === 0 && min === 0 && max === Infinity) return (v) => typeof v === 'string';
  if (patterns.length === 1 && min === 0 && max === Infinity) {
    const p = patterns[0]!;
    return (v) => typeof v === 'string' && p.test(v);
  }
  return (v) => {
    if (typeof v !== 'string' || v.length < min || v.length > max) return false;
    for (const p of patterns) if (!p.test(v)) return false;
    return true;
  };
}

function compileNumber(def: Def): FastCheck {
  let safeInt = false;
  let low = -Infinity;
  let lowInclusive = true;
  let high = Infinity;
  let highInclusive = true;
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    if (c.check === 'number_format' && c.format === 'safeint') safeInt = true;
    else if (c.check === 'greater_than' && typeof c.value === 'number') {
      if (c.value > low || (c.value === low && !c.inclusive)) {
        low = c.value;
        lowInclusive = c.inclusive === true;
      }
    } else if (c.check === 'less_than' && typeof c.value === 'number') {
      if (c.value < high || (c.value === high && !c.inclusive)) {
        high = c.value;
        highInclusive = c.inclusive === true;
      }
    } else throw new Unsupported(`number check ${c.check}`);
  }
  // z.number() refuses NaN and ±Infinity; Number.isSafeInteger refuses them too.
  return (v) =>
    typeof v === 'number' &&
    (safeInt ? Number.isSafeInteger(v) : Number.isFinite(v)) &&
    (lowInclusive ? v >= low : v > low) &&
    (highInclusive ? v <= high : v < high);
}

function compileObject(def: Def): FastCheck {
  if (def.catchall === undefined || defOf(def.catchall).type !== 'never') throw new Unsupported('only strict objects');
  const fields = new Map<string, { check: FastCheck; required: boolean }>();
  let requiredCount = 0;
  for (const [key, schema] of Object.entries(def.shape ?? {})) {
    const d = defOf(schema);
    const required = d.type !== 'optional';
    if (required) requiredCount++;
    fields.set(key, { check: compile(d), required });
  }
  const refinements: Array<(value: unknown) => unknown> = [];
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    if (c.check !== 'custom' || typeof c.fn !== 'function') throw new Unsupported(`object check ${c.check}`);
    refinements.push(c.fn);
  }
  // The keys of the last value checked and their fields, in its order: values of one schema mostly
  // come with the same keys in the same order, and then no field is looked up by name.
  const lastKeys: string[] = [];
  const lastFields: Array<{ check: FastCheck; required: boolean }> = [];
  return (v) => {
    if (!isPlainData(v)) return false;
    let required = 0;
    let i = 0;
    // Every own enumerable key must be a field (strict), with a valid value; a required field that
    // is absent (or non-enumerable, which zod would still read) leaves the count short: false.
    // for…in without a key list (an inherited enumerable key, a polluted prototype: false, zod decides).
    for (const key in v) {
      if (!Object.hasOwn(v, key)) return false;
      let f = lastKeys[i] === key ? lastFields[i] : undefined;
      if (f === undefined) {
        f = fields.get(key);
        if (f === undefined) return false;
        lastKeys[i] = key;
        lastFields[i] = f;
      }
      i++;
      if (!f.check(v[key])) return false;
      if (f.required) required++;
    }
    if (required !== requiredCount) return false;
    for (const fn of refinements) if (fn(v) !== true) return false;
    return true;
  };
}

function compileRecord(def: Def): FastCheck {
  const keyDef = def.keyType === undefined ? undefined : defOf(def.keyType);
  if (keyDef === undefined || keyDef.type !== 'string' || (keyDef.checks ?? []).length > 0) throw new Unsupported('record keys other than plain strings');
  if (def.valueType === undefined) throw new Unsupported('record without a value type');
  const value = compile(defOf(def.valueType));
  return (v) => {
    if (!isPlainData(v)) return false;
    // zod refuses symbol keys in a record.
    if (Object.getOwnPropertySymbols(v).length > 0) return false;
    for (const key in v) if (!Object.hasOwn(v, key) || !value(v[key])) return false;
    return true;
  };
}

function compileArray(def: Def): FastCheck {
  const { min, max } = lengthBounds((def.checks ?? []).map((c) => c._zod.def));
  if (def.element === undefined) throw new Unsupported('array without an element type');
  const element = compile(defOf(def.element));
  return (v) => {
    if (!Array.isArray(v) || v.length < min || v.length > max) return false;
    for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
    return true;
  };
}

function compile(def: Def): FastCheck {
  switch (def.type) {
    case 'string':
      return compileString(def);
    case 'number':
      return compileNumber(def);
    case 'boolean':
      if ((def.checks ?? []).length > 0) throw new Unsupported('boolean checks');
      return (v) => typeof v === 'boolean';
    case 'enum': {
      if ((def.checks ?? []).length > 0) throw new Unsupported('enum checks');
      const values = new Set(Object.values(def.entries ?? {}));
      return (v) => (typeof v === 'string' || typeof v === 'number') && values.has(v);
    }
    case 'optional': {
      if (def.innerType === undefined) throw new Unsupported('optional without an inner type');
      const inner = compile(defOf(def.innerType));
      return (v) => v === undefined || inner(v);
    }
    case 'object':
      return compileObject(def);
    case 'record':
      return compileRecord(def);
    case 'array':
      return compileArray(def);
    default:
      throw new Unsupported(def.type);
  }
}

/** The fast check of a schema, or undefined when the schema uses a construct this does not know. */
export function compileFastCheck(schema: z.ZodType): FastCheck | undefined {
  try {
    return compile(defOf(schema as unknown as { _zod: { def: unknown } }));
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}
