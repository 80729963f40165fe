/**
 * Binary XML (BinXML) as EVTX stores it: a token stream whose element and attribute names live in
 * the chunk's string table, and whose values mostly come from a template instance (a template
 * definition, cached per chunk, plus an array of typed substitution values). This module turns a
 * record's BinXML into a small element tree with the substitutions filled in. Pure.
 *
 * Reference: the libevtx / libfwevt format documentation (Joachim Metz) and the token table in
 * [MS-EVEN6] "BinXml". Renderings of values follow evtxexport (libevtx-utils) so that the oracle
 * tests can compare text exactly: hex integers zero-padded, GUIDs upper-case in braces, FILETIME
 * with nine fraction digits, binary as upper-case hex.
 */
import {
  ByteView,
  EvtxFormatError,
  ansi,
  filetimeIso,
  hexFixed,
  hexUpper,
  stripNuls,
  utf16le,
} from './bytes.js';

export interface XElement {
  name: string;
  attrs: XAttr[];
  children: XNode[];
}
export interface XAttr {
  name: string;
  value: XPart[];
}
/** A substitution placeholder inside a template definition. */
export interface XSubst {
  sub: number;
  optional: boolean;
}
export type XPart = string | XSubst;
export type XNode = XElement | XPart;

export function isElement(n: XNode): n is XElement {
  return typeof n === 'object' && 'name' in n;
}

interface Value {
  type: number;
  off: number;
  size: number;
}

/** Limits that keep hostile input from taking unbounded time or stack. */
const MAX_DEPTH = 48;
const MAX_NODES_PER_RECORD = 200_000;

/** Marks a template whose definition is being read (a template that instantiates itself is an error). */
const IN_PROGRESS = Symbol('in progress');

/** Per-chunk state: where the chunk is, and its name and template caches. */
export class ChunkContext {
  readonly v: ByteView;
  readonly base: number;
  readonly end: number;
  private readonly names = new Map<number, string>();
  private readonly templates = new Map<number, XNode[] | EvtxFormatError | typeof IN_PROGRESS>();
  /** Value types seen (for diagnostics and tests). */
  readonly valueTypes = new Set<number>();
  budget = 0;
  depth = 0;

  constructor(v: ByteView, base: number, end: number) {
    this.v = v;
    this.base = base;
    this.end = end;
  }

  /** A name at a chunk-relative offset: u32 next, u16 hash, u16 chars, UTF-16LE, u16 NUL. Returns its text and byte size. */
  name(rel: number): { text: string; size: number } {
    const abs = this.base + rel;
    if (rel < 0 || abs + 8 > this.end) throw new EvtxFormatError('evtx.bad_name', `name offset ${rel} is outside the chunk`);
    const chars = this.v.u16(abs + 6);
    const size = 8 + chars * 2 + 2;
    if (abs + size > this.end) throw new EvtxFormatError('evtx.bad_name', `name at ${rel} runs past the chunk`);
    let text = this.names.get(rel);
    if (text === undefined) {
      text = utf16le(this.v, abs + 8, chars * 2);
      this.names.set(rel, text);
    }
    return { text, size };
  }

  tick(): void {
    if (++this.budget > MAX_NODES_PER_RECORD) {
      throw new EvtxFormatError('evtx.too_complex', `record expands to more than ${MAX_NODES_PER_RECORD} nodes`);
    }
  }

  template(defRel: number): XNode[] {
    const cached = this.templates.get(defRel);
    if (cached !== undefined) {
      if (cached === IN_PROGRESS) throw new EvtxFormatError('evtx.bad_template', `template at ${defRel} refers to itself`);
      if (cached instanceof EvtxFormatError) throw cached;
      return cached;
    }
    const abs = this.base + defRel;
    try {
      if (defRel < 0 || abs + 24 > this.end) {
        throw new EvtxFormatError('evtx.bad_template', `template definition offset ${defRel} is outside the chunk`);
      }
      const dataSize = this.v.u32(abs + 20);
      const start = abs + 24;
      const stop = start + dataSize;
      if (stop > this.end) throw new EvtxFormatError('evtx.bad_template', `template at ${defRel} runs past the chunk`);
      // Guard against a template that (directly or not) instantiates itself.
      this.templates.set(defRel, IN_PROGRESS);
      const nodes = parseStream(this, start, stop, null).nodes;
      this.templates.set(defRel, nodes);
      return nodes;
    } catch (err) {
      const e = err instanceof EvtxFormatError ? err : new EvtxFormatError('evtx.bad_template', err instanceof Error ? err.message : String(err));
      this.templates.set(defRel, e);
      throw e;
    }
  }
}

/**
 * Parses a token stream from `pos` up to `stop` (or its end-of-stream token). `values` are the
 * substitution values when this stream is a record's own (or an embedded BinXML value's) content;
 * null inside a template definition, where substitutions stay placeholders.
 */
export function parseStream(ctx: ChunkContext, pos: number, stop: number, values: Value[] | null): { nodes: XNode[]; pos: number } {
  const nodes: XNode[] = [];
  const r = { pos };
  parseContent(ctx, r, stop, nodes, values, true);
  return { nodes, pos: r.pos };
}

interface Cursor {
  pos: number;
}

/** Reads content tokens into `out` until EndElement (consumed), EOF or `stop`. */
function parseContent(ctx: ChunkContext, r: Cursor, stop: number, out: XNode[], values: Value[] | null, topLevel: boolean): void {
  const v = ctx.v;
  if (++ctx.depth > MAX_DEPTH) throw new EvtxFormatError('evtx.too_deep', `BinXML nested deeper than ${MAX_DEPTH}`);
  try {
    while (r.pos < stop) {
      ctx.tick();
      const token = v.u8(r.pos);
      switch (token) {
        case 0x00: // end of stream
          r.pos += 1;
          return;
        case 0x0f: // fragment header: major, minor, flags
          r.pos += 4;
          break;
        case 0x01:
        case 0x41:
          out.push(parseElement(ctx, r, stop, values));
          break;
        case 0x04: // end element
          r.pos += 1;
          if (!topLevel) return;
          break;
        case 0x0c: {
          for (const n of parseTemplateInstance(ctx, r, stop)) out.push(n);
          break;
        }
        default: {
          const part = parseValuePart(ctx, r, token);
          if (part === undefined) {
            throw new EvtxFormatError('evtx.bad_token', `unknown BinXML token 0x${token.toString(16)} at offset ${r.pos}`);
          }
          if (typeof part === 'string') {
            if (part !== '') out.push(part);
          } else if (values !== null) {
            for (const n of substitute(ctx, part, values)) out.push(n);
          } else {
            out.push(part);
          }
        }
      }
    }
  } finally {
    ctx.depth--;
  }
}

/** Text-like tokens that may appear in content or in an attribute value; undefined if `token` is none of them. */
function parseValuePart(ctx: ChunkContext, r: Cursor, token: number): XPart | undefined {
  const v = ctx.v;
  switch (token) {
    case 0x05:
    case 0x45: {
      // value text: type (string), u16 chars, UTF-16LE
      const type = v.u8(r.pos + 1);
      const chars = v.u16(r.pos + 2);
      const text = type === 0x02 ? ansi(v, r.pos + 4, chars) : utf16le(v, r.pos + 4, chars * 2);
      r.pos += 4 + (type === 0x02 ? chars : chars * 2);
      return text;
    }
    case 0x0d:
    case 0x0e: {
      // substitution: u16 index, u8 value type
      const sub = v.u16(r.pos + 1);
      v.u8(r.pos + 3);
      r.pos += 4;
      return { sub, optional: token === 0x0e };
    }
    case 0x07:
    case 0x47: {
      const chars = v.u16(r.pos + 1);
      const text = utf16le(v, r.pos + 3, chars * 2);
      r.pos += 3 + chars * 2;
      return text;
    }
    case 0x08:
    case 0x48: {
      const code = v.u16(r.pos + 1);
      r.pos += 3;
      return String.fromCharCode(code);
    }
    case 0x09:
    case 0x49: {
      const rel = v.u32(r.pos + 1);
      const here = r.pos + 5 - ctx.base;
      const name = ctx.name(rel);
      r.pos += 5 + (rel === here ? name.size : 0);
      return ENTITIES[name.text] ?? `&${name.text};`;
    }
    case 0x0a: {
      // processing instruction target: a name; its data follows as 0x0b
      const rel = v.u32(r.pos + 1);
      const here = r.pos + 5 - ctx.base;
      const name = ctx.name(rel);
      r.pos += 5 + (rel === here ? name.size : 0);
      return '';
    }
    case 0x0b: {
      const chars = v.u16(r.pos + 1);
      r.pos += 3 + chars * 2;
      v.check(r.pos - chars * 2, chars * 2);
      return '';
    }
    default:
      return undefined;
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * An element: token, [u16 dependency id], u32 data size, u32 name offset, [inline name],
 * [u32 attribute list size, attributes], then CloseStartElement + content + EndElement, or
 * CloseEmptyElement. Some writers leave out the dependency id (seen in the RDP sample, where
 * libevtx and python-evtx both give up); we take whichever layout names a string that exists.
 */
function parseElement(ctx: ChunkContext, r: Cursor, stop: number, values: Value[] | null): XElement {
  const v = ctx.v;
  const token = v.u8(r.pos);
  const p = r.pos + 1;
  const plausible = (rel: number, headerEnd: number): boolean => {
    const here = headerEnd - ctx.base;
    if (rel < 0 || ctx.base + rel + 8 > ctx.end) return false;
    if (rel === here) return true;
    return rel >= 0x80 && rel < here;
  };
  let headerEnd: number;
  let nameRel: number;
  const relA = p + 10 <= ctx.end ? v.u32(p + 6) : -1;
  if (plausible(relA, p + 10)) {
    headerEnd = p + 10;
    nameRel = relA;
  } else {
    const relB = v.u32(p + 4);
    if (!plausible(relB, p + 8)) {
      throw new EvtxFormatError('evtx.bad_element', `element at offset ${r.pos} names no string (offset ${relA} / ${relB})`);
    }
    headerEnd = p + 8;
    nameRel = relB;
  }
  const name = ctx.name(nameRel);
  r.pos = headerEnd + (nameRel === headerEnd - ctx.base ? name.size : 0);
  const el: XElement = { name: name.text, attrs: [], children: [] };
  if (token & 0x40) {
    v.u32(r.pos); // attribute list size
    r.pos += 4;
    while (r.pos < stop) {
      const t = v.u8(r.pos);
      if ((t & 0xbf) !== 0x06) break;
      el.attrs.push(parseAttribute(ctx, r, values));
      if (!(t & 0x40)) break;
    }
  }
  const close = v.u8(r.pos);
  if (close === 0x03) {
    r.pos += 1;
    return el;
  }
  if (close !== 0x02) {
    throw new EvtxFormatError('evtx.bad_element', `element ${el.name} at ${r.pos}: expected close of start tag, got 0x${close.toString(16)}`);
  }
  r.pos += 1;
  parseContent(ctx, r, stop, el.children, values, false);
  return el;
}

function parseAttribute(ctx: ChunkContext, r: Cursor, values: Value[] | null): XAttr {
  const v = ctx.v;
  ctx.tick();
  const rel = v.u32(r.pos + 1);
  const here = r.pos + 5 - ctx.base;
  const name = ctx.name(rel);
  r.pos += 5 + (rel === here ? name.size : 0);
  const value: XPart[] = [];
  for (;;) {
    const t = v.u8(r.pos);
    if ((t & 0xbf) === 0x06 || t === 0x02 || t === 0x03 || t === 0x00) break;
    const part = parseValuePart(ctx, r, t);
    if (part === undefined) throw new EvtxFormatError('evtx.bad_token', `unexpected token 0x${t.toString(16)} in attribute ${name.text}`);
    if (typeof part !== 'string' && values !== null) {
      value.push(substituteText(ctx, part, values));
    } else {
      value.push(part);
    }
  }
  return { name: name.text, value };
}

/**
 * A template instance: 0x0c, u8, u32 template id, u32 definition offset, [inline definition:
 * u32 next, GUID, u32 size, BinXML], u32 value count, count × (u16 size, u8 type, u8 pad), values.
 */
function parseTemplateInstance(ctx: ChunkContext, r: Cursor, stop: number): XNode[] {
  const v = ctx.v;
  const defRel = v.u32(r.pos + 6);
  let pos = r.pos + 10;
  if (defRel === pos - ctx.base) {
    const dataSize = v.u32(pos + 20);
    pos += 24 + dataSize;
  }
  const count = v.u32(pos);
  pos += 4;
  if (count * 4 > stop - pos) throw new EvtxFormatError('evtx.bad_template', `template instance claims ${count} values`);
  const values: Value[] = new Array<Value>(count);
  let vpos = pos + count * 4;
  for (let i = 0; i < count; i++) {
    const size = v.u16(pos + i * 4);
    const type = v.u8(pos + i * 4 + 2);
    values[i] = { type, off: vpos, size };
    vpos += size;
  }
  if (vpos > stop) throw new EvtxFormatError('evtx.bad_template', `template values run past the record (${vpos} > ${stop})`);
  r.pos = vpos;
  const def = ctx.template(defRel);
  return instantiate(ctx, def, values);
}

function instantiate(ctx: ChunkContext, nodes: readonly XNode[], values: Value[]): XNode[] {
  const out: XNode[] = [];
  if (++ctx.depth > MAX_DEPTH) throw new EvtxFormatError('evtx.too_deep', `templates nested deeper than ${MAX_DEPTH}`);
  try {
    for (const n of nodes) {
      ctx.tick();
      if (typeof n === 'string') out.push(n);
      else if (isElement(n)) {
        const attrs: XAttr[] = [];
        for (const a of n.attrs) {
          let omitted = false;
          const parts: XPart[] = [];
          for (const p of a.value) {
            if (typeof p === 'string') parts.push(p);
            else {
              const val = values[p.sub];
              if (p.optional && (val === undefined || val.type === 0 || val.size === 0)) omitted = true;
              parts.push(substituteText(ctx, p, values));
            }
          }
          if (!omitted) attrs.push({ name: a.name, value: [parts.join('')] });
        }
        // An element whose only content is optional substitutions without a value is left out
        // (the [MS-EVEN6] rule evtxexport and Event Viewer follow: `<EventData/>`, not `<Data></Data>`).
        if (n.children.length > 0 && n.children.every((c) => isAbsentOptional(c, values))) continue;
        // An element whose content is one array value is repeated, once per item.
        const only = n.children.length === 1 ? n.children[0] : undefined;
        if (only !== undefined && typeof only === 'object' && !isElement(only)) {
          const val = values[only.sub];
          if (val !== undefined && val.type & 0x80) {
            ctx.valueTypes.add(val.type);
            for (const item of renderArrayItems(ctx.v, val)) out.push({ name: n.name, attrs, children: item === '' ? [] : [item] });
            continue;
          }
        }
        out.push({ name: n.name, attrs, children: instantiate(ctx, n.children, values) });
      } else {
        for (const x of substitute(ctx, n, values)) out.push(x);
      }
    }
  } finally {
    ctx.depth--;
  }
  return out;
}

function isAbsentOptional(n: XNode, values: Value[]): boolean {
  if (typeof n !== 'object' || isElement(n) || !n.optional) return false;
  const val = values[n.sub];
  return val === undefined || val.type === 0 || val.size === 0;
}

/** A substitution in element content: text, or (BinXML value) the elements of an embedded fragment. */
function substitute(ctx: ChunkContext, s: XSubst, values: Value[]): XNode[] {
  const val = values[s.sub];
  if (val === undefined) return [];
  ctx.valueTypes.add(val.type);
  if (val.type === 0x21) {
    if (val.size === 0) return [];
    return parseStream(ctx, val.off, val.off + val.size, []).nodes;
  }
  const text = renderValue(ctx.v, val);
  return text === '' ? [] : [text];
}

function substituteText(ctx: ChunkContext, s: XSubst, values: Value[]): string {
  const val = values[s.sub];
  if (val === undefined || val.type === 0x21) return '';
  ctx.valueTypes.add(val.type);
  return renderValue(ctx.v, val);
}

const FIXED_SIZES: Record<number, number> = {
  0x03: 1, 0x04: 1, 0x05: 2, 0x06: 2, 0x07: 4, 0x08: 4, 0x09: 8, 0x0a: 8, 0x0b: 4, 0x0c: 8,
  0x0d: 4, 0x0f: 16, 0x11: 8, 0x12: 16, 0x14: 4, 0x15: 8,
};

/** A substitution value as text. Arrays (type | 0x80) in attribute values are joined with ", "; in content they repeat their element. */
export function renderValue(v: ByteView, val: Value): string {
  const { type, off, size } = val;
  v.check(off, size);
  if (type & 0x80) return renderArrayItems(v, val).join(', ');
  const dv = v.dv;
  switch (type) {
    case 0x00:
      return '';
    case 0x01:
      return stripNuls(utf16le(v, off, size));
    case 0x02:
      return stripNuls(ansi(v, off, size));
    case 0x03:
      return size >= 1 ? String(dv.getInt8(off)) : '';
    case 0x04:
      return size >= 1 ? String(dv.getUint8(off)) : '';
    case 0x05:
      return size >= 2 ? String(dv.getInt16(off, true)) : '';
    case 0x06:
      return size >= 2 ? String(dv.getUint16(off, true)) : '';
    case 0x07:
      return size >= 4 ? String(dv.getInt32(off, true)) : '';
    case 0x08:
      return size >= 4 ? String(dv.getUint32(off, true)) : '';
    case 0x09:
      return size >= 8 ? String(dv.getBigInt64(off, true)) : '';
    case 0x0a:
      return size >= 8 ? String(dv.getBigUint64(off, true)) : '';
    case 0x0b:
      return size >= 4 ? String(dv.getFloat32(off, true)) : '';
    case 0x0c:
      return size >= 8 ? String(dv.getFloat64(off, true)) : '';
    case 0x0d: {
      let any = false;
      for (let i = 0; i < size; i++) if (v.bytes[off + i] !== 0) any = true;
      return any ? 'true' : 'false';
    }
    case 0x0f:
      return size >= 16 ? renderGuid(v, off) : hexUpper(v, off, size);
    case 0x10:
      if (size === 8) return hexFixed(dv.getBigUint64(off, true), 16);
      if (size === 4) return hexFixed(dv.getUint32(off, true), 8);
      return hexUpper(v, off, size);
    case 0x11:
      return size >= 8 ? filetimeIso(dv.getBigUint64(off, true)) : '';
    case 0x12:
      return size >= 16 ? renderSystemTime(v, off) : '';
    case 0x13:
      return renderSid(v, off, size) ?? hexUpper(v, off, size);
    case 0x14:
      return size >= 4 ? hexFixed(dv.getUint32(off, true), 8) : '';
    case 0x15:
      return size >= 8 ? hexFixed(dv.getBigUint64(off, true), 16) : '';
    default:
      // 0x0e binary, 0x20 EvtHandle, 0x23 EvtXml and anything unknown: the bytes, as hex.
      return hexUpper(v, off, size);
  }
}

/** The items of an array value (type | 0x80): NUL-separated strings, or fixed-size values one after another. */
export function renderArrayItems(v: ByteView, val: Value): string[] {
  const { type, off, size } = val;
  v.check(off, size);
  const base = type & 0x7f;
  if (base === 0x01 || base === 0x02) {
    const parts = (base === 0x01 ? utf16le(v, off, size) : ansi(v, off, size)).split('\u0000');
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    return parts;
  }
  const el = base === 0x10 ? (size % 8 === 0 ? 8 : 4) : base === 0x13 ? 0 : FIXED_SIZES[base];
  if (el === undefined) return [hexUpper(v, off, size)];
  if (el === 0) return renderSidArray(v, off, size);
  const items: string[] = [];
  for (let p = off; p + el <= off + size; p += el) items.push(renderValue(v, { type: base, off: p, size: el }));
  return items;
}

function renderGuid(v: ByteView, off: number): string {
  const dv = v.dv;
  const h = (n: number, d: number): string => n.toString(16).toUpperCase().padStart(d, '0');
  return `{${h(dv.getUint32(off, true), 8)}-${h(dv.getUint16(off + 4, true), 4)}-${h(dv.getUint16(off + 6, true), 4)}-${hexUpper(v, off + 8, 2)}-${hexUpper(v, off + 10, 6)}}`;
}

function renderSystemTime(v: ByteView, off: number): string {
  const dv = v.dv;
  const p = (n: number, d = 2): string => String(n).padStart(d, '0');
  const [y, mo, , d, h, mi, s, ms] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => dv.getUint16(off + i * 2, true)) as [
    number, number, number, number, number, number, number, number,
  ];
  return `${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}.${p(ms, 3)}000000Z`;
}

/** S-R-A-S1-S2…: u8 revision, u8 sub-authority count, 6-byte big-endian authority, u32 LE sub-authorities. */
function renderSid(v: ByteView, off: number, size: number): string | undefined {
  if (size < 8) return undefined;
  const rev = v.bytes[off]!;
  const n = v.bytes[off + 1]!;
  if (8 + n * 4 > size) return undefined;
  let auth = 0;
  for (let i = 2; i < 8; i++) auth = auth * 256 + v.bytes[off + i]!;
  let s = `S-${rev}-${auth}`;
  for (let i = 0; i < n; i++) s += `-${v.dv.getUint32(off + 8 + i * 4, true)}`;
  return s;
}

function renderSidArray(v: ByteView, off: number, size: number): string[] {
  const out: string[] = [];
  let p = off;
  while (p + 8 <= off + size) {
    const n = v.bytes[p + 1]!;
    const len = 8 + n * 4;
    const s = renderSid(v, p, Math.min(len, off + size - p));
    if (s === undefined) break;
    out.push(s);
    p += len;
  }
  return out;
}
