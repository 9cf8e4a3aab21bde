/**
 * Structural checks of an Arrow IPC file before and after apache-arrow
 * decodes it, so that damaged bytes end in an error naming the file and the
 * fault, never in a hang or in lazily decoded garbage:
 *
 * - before: the footer (its length, the record-batch and dictionary blocks
 *   lie inside the file; the reader walks every block the footer claims, so a
 *   damaged count would otherwise keep it busy for minutes);
 * - after: every column of every batch holds the buffers its length needs
 *   (values, validity bitmap, offsets that rise and stay inside the values,
 *   dictionary indices inside the dictionary, children as long as the batch).
 *
 * Private to `quant/calib/` (used by `readArrowIPC`).
 * @module
 */
import { type Data, type Table, Type } from "apache-arrow";

/** The bytes after the footer: its int32 length and the magic `ARROW1`. */
const TAIL = 4 + 6;
/** The magic and its padding at the start. */
const HEAD = 8;

/**
 * Checks the footer of an Arrow IPC file: returns a problem, or undefined
 * when every block it lists lies inside the file.
 */
export function checkArrowFooter(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HEAD + TAIL + 4) return `only ${bytes.length} bytes, too short for a footer`;
  const footerLength = view.getInt32(bytes.length - TAIL, true);
  const footerStart = bytes.length - TAIL - footerLength;
  if (footerLength <= 0 || footerStart < HEAD) {
    return `its footer length ${footerLength} does not fit the file (${bytes.length} bytes)`;
  }
  const footer = bytes.subarray(footerStart, footerStart + footerLength);
  const flat = checkFooterTables(footer);
  if (flat) return `its footer is damaged (${flat})`;
  const f = new Flat(footer);
  const root = f.ref(0);
  for (
    const [what, k, type] of [["dictionaries", 2, DICTIONARY], [
      "record batches",
      3,
      RECORD_BATCH,
    ]] as const
  ) {
    const blocks = f.field(root, k);
    if (blocks === undefined) continue;
    const [at, count] = f.vector(blocks, 24);
    for (let i = 0; i < count; i++) {
      // struct Block { offset: long; metaDataLength: int; (pad) bodyLength: long }
      const b = {
        offset: f.i64(at + 24 * i),
        metaDataLength: f.i32(at + 24 * i + 8),
        bodyLength: f.i64(at + 24 * i + 16),
      };
      const end = b.offset + b.metaDataLength + b.bodyLength;
      if (!(b.offset >= HEAD && b.metaDataLength > 0 && b.bodyLength >= 0 && end <= footerStart)) {
        return `its footer's ${what} block ${i} (offset ${b.offset}, ${b.metaDataLength} + ` +
          `${b.bodyLength} bytes) lies outside the data (bytes ${HEAD}–${footerStart})`;
      }
      const problem = checkMessage(bytes, b, type);
      if (problem) return `${what} block ${i}: ${problem}`;
    }
  }
  return undefined;
}

/**
 * Walks the footer's flatbuffer as the reader will (schema, fields and their
 * children, types, dictionaries, key-value metadata, the block vectors) with
 * every offset bounds-checked and a budget on the tables visited: a damaged
 * vector length or a reference looping back would otherwise keep the
 * reader's decoder busy for minutes.
 */
function checkFooterTables(bytes: Uint8Array): string | undefined {
  const f = new Flat(bytes);
  let budget = Math.max(64, bytes.length / 4);
  const table = (p: number): number => {
    if (--budget < 0) throw new RangeError("more tables than the footer can hold: a loop");
    const t = f.ref(p);
    const vt = t - f.i32(t);
    const size = f.i16(vt);
    if (size < 4 || size % 2 !== 0) throw new RangeError(`a vtable of ${size} bytes`);
    f.i16(vt + size - 2);
    return t;
  };
  const string = (p: number) => f.vector(p, 1);
  const keyValues = (p: number | undefined) => {
    if (p === undefined) return;
    const [at, n] = f.vector(p, 4);
    for (let i = 0; i < n; i++) {
      const kv = table(at + 4 * i);
      for (const k of [0, 1]) {
        const s = f.field(kv, k);
        if (s !== undefined) string(s);
      }
    }
  };
  const field = (p: number, depth: number): void => {
    if (depth > 64) throw new RangeError("fields nested deeper than 64 levels");
    const t = table(p);
    const name = f.field(t, 0);
    if (name !== undefined) string(name);
    const type = f.field(t, 3);
    if (type !== undefined) table(type);
    const dict = f.field(t, 4);
    if (dict !== undefined) {
      const d = table(dict);
      const index = f.field(d, 1);
      if (index !== undefined) table(index);
    }
    const children = f.field(t, 5);
    if (children !== undefined) {
      const [at, n] = f.vector(children, 4);
      for (let i = 0; i < n; i++) field(at + 4 * i, depth + 1);
    }
    keyValues(f.field(t, 6));
  };
  try {
    const footer = table(0);
    const schemaField = f.field(footer, 1);
    if (schemaField === undefined) return "it has no schema";
    const schema = table(schemaField);
    const fields = f.field(schema, 1);
    if (fields !== undefined) {
      const [at, n] = f.vector(fields, 4);
      for (let i = 0; i < n; i++) field(at + 4 * i, 0);
    }
    keyValues(f.field(schema, 2));
    const features = f.field(schema, 3);
    if (features !== undefined) f.vector(features, 8);
    for (const k of [2, 3]) {
      const blocks = f.field(footer, k);
      if (blocks !== undefined) f.vector(blocks, 24);
    }
    keyValues(f.field(footer, 4));
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

const DICTIONARY = 2;
const RECORD_BATCH = 3;

/** A bounds-checked reader of the little-endian flatbuffer of one message. */
class Flat {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  #at(pos: number, size: number): number {
    if (!(pos >= 0 && pos + size <= this.bytes.length)) throw new RangeError(`offset ${pos}`);
    return pos;
  }
  u8(p: number): number {
    return this.view.getUint8(this.#at(p, 1));
  }
  i16(p: number): number {
    return this.view.getInt16(this.#at(p, 2), true);
  }
  i32(p: number): number {
    return this.view.getInt32(this.#at(p, 4), true);
  }
  i64(p: number): number {
    return Number(this.view.getBigInt64(this.#at(p, 8), true));
  }
  /** The position of field `k` of the table at `t`, or undefined when absent. */
  field(t: number, k: number): number | undefined {
    // as the flatbuffers runtime reads it: signed 16-bit vtable entries
    const vtable = t - this.i32(t);
    if (4 + 2 * k >= this.i16(vtable)) return undefined;
    const off = this.i16(vtable + 4 + 2 * k);
    return off === 0 ? undefined : t + off;
  }
  /** The table a reference field at `p` points to. */
  ref(p: number): number {
    return p + this.i32(p);
  }
  /** A vector at the reference field `p`: its first element and its length. */
  vector(p: number, elementSize: number): [number, number] {
    const v = this.ref(p);
    const n = this.i32(v);
    if (!(n >= 0 && v + 4 + n * elementSize <= this.bytes.length)) {
      throw new RangeError(`a vector of ${n} elements at ${v}`);
    }
    return [v + 4, n];
  }
}

/**
 * Checks the metadata of the message in a block: its type, and that the
 * record batch it describes has sane lengths and buffers inside its body (the
 * reader loops over every node and buffer the metadata claims).
 */
function checkMessage(
  bytes: Uint8Array,
  block: { offset: number; metaDataLength: number; bodyLength: number },
  type: number,
): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = block.offset;
  let length = view.getInt32(start, true);
  if (length === -1) length = view.getInt32(start += 4, true); // continuation marker
  start += 4;
  if (!(length > 0 && start + length <= block.offset + block.metaDataLength)) {
    return `its message metadata length ${length} does not fit the block`;
  }
  const f = new Flat(bytes.subarray(start, start + length));
  try {
    const message = f.ref(0);
    const headerType = f.field(message, 1);
    const kind = headerType === undefined ? 0 : f.u8(headerType);
    if (kind !== type) {
      return `its message is of type ${kind}, expected ${
        type === DICTIONARY ? "a dictionary batch (2)" : "a record batch (3)"
      }`;
    }
    const bodyField = f.field(message, 3);
    const body = bodyField === undefined ? 0 : f.i64(bodyField);
    if (!(body >= 0 && body <= block.bodyLength)) {
      return `its message body of ${body} bytes exceeds the block's ${block.bodyLength}`;
    }
    const headerField = f.field(message, 2);
    if (headerField === undefined) return "its message has no header";
    let batch = f.ref(headerField);
    if (type === DICTIONARY) {
      const data = f.field(batch, 1);
      if (data === undefined) return "its dictionary batch has no data";
      batch = f.ref(data);
    }
    const lengthField = f.field(batch, 0);
    const rows = lengthField === undefined ? 0 : f.i64(lengthField);
    if (!(rows >= 0 && rows < 2 ** 31)) return `its record batch claims ${rows} rows`;
    const nodesField = f.field(batch, 1);
    if (nodesField !== undefined) {
      const [at, n] = f.vector(nodesField, 16);
      for (let i = 0; i < n; i++) {
        const len = f.i64(at + 16 * i), nulls = f.i64(at + 16 * i + 8);
        if (!(len >= 0 && len < 2 ** 31 && nulls >= 0 && nulls <= len)) {
          return `its field node ${i} claims ${len} values with ${nulls} nulls`;
        }
      }
    }
    const buffersField = f.field(batch, 2);
    if (buffersField !== undefined) {
      const [at, n] = f.vector(buffersField, 16);
      for (let i = 0; i < n; i++) {
        const off = f.i64(at + 16 * i), len = f.i64(at + 16 * i + 8);
        if (!(off >= 0 && len >= 0 && off + len <= body)) {
          return `its buffer ${i} (offset ${off}, ${len} bytes) lies outside the ${body}-byte body`;
        }
      }
    }
    const variadic = f.field(batch, 4);
    if (variadic !== undefined) f.vector(variadic, 8);
    const meta = f.field(message, 4);
    if (meta !== undefined) {
      const [at, n] = f.vector(meta, 4);
      for (let i = 0; i < n; i++) {
        const kv = f.ref(at + 4 * i);
        for (const k of [0, 1]) {
          const str = f.field(kv, k);
          if (str !== undefined) f.vector(str, 1);
        }
      }
    }
  } catch (e) {
    return `its message metadata is damaged (${(e as Error).message} is out of bounds)`;
  }
  return undefined;
}

/** Checks every column of a decoded table; returns the first problem, or undefined. */
export function checkArrowTable(table: Table): string | undefined {
  for (const [b, batch] of table.batches.entries()) {
    for (const [c, field] of table.schema.fields.entries()) {
      const data = batch.data.children[c];
      const where = `column "${field.name}" of record batch ${b}`;
      if (!data) return `${where} is missing`;
      if (data.length !== batch.numRows) {
        return `${where} has ${data.length} rows, the batch ${batch.numRows}`;
      }
      const problem = checkData(data, 0);
      if (problem) return `${where} ${problem}`;
    }
  }
  return undefined;
}

function checkData(d: Data, depth: number): string | undefined {
  if (depth > 32) return "nests deeper than 32 levels";
  const rows = d.offset + d.length;
  if (!(Number.isSafeInteger(d.length) && d.length >= 0 && d.offset >= 0)) {
    return `has length ${d.length} at offset ${d.offset}`;
  }
  const bitmap = d.nullBitmap;
  if (bitmap && bitmap.length > 0 && bitmap.length * 8 < rows) {
    return `has a validity bitmap of ${bitmap.length} bytes for ${rows} rows`;
  }
  const t = d.type;
  switch (t.typeId) {
    case Type.Null:
      return undefined;
    case Type.Bool:
      return (d.values?.length ?? 0) * 8 < rows
        ? `holds ${d.values?.length ?? 0} bytes of booleans for ${rows} rows`
        : undefined;
    case Type.Utf8:
    case Type.Binary:
    case Type.LargeUtf8:
    case Type.LargeBinary:
      return checkOffsets(d, rows, d.values?.length ?? 0, "bytes");
    case Type.List: {
      const child = d.children[0];
      if (!child) return "is a list without its values";
      return checkOffsets(d, rows, child.offset + child.length, "values") ??
        checkData(child, depth + 1);
    }
    case Type.Struct:
      for (const child of d.children) {
        if (child.offset + child.length < rows) {
          return `has a field of ${child.length} rows for ${rows} rows`;
        }
        const p = checkData(child, depth + 1);
        if (p) return p;
      }
      return undefined;
    case Type.Dictionary: {
      const p = checkFixed(d, rows);
      if (p) return p;
      const dict = d.dictionary;
      if (!dict) return "is dictionary-encoded without its dictionary";
      for (const part of dict.data) {
        const q = checkData(part, depth + 1);
        if (q) return `'s dictionary ${q}`;
      }
      const idx = d.values as ArrayLike<number | bigint>;
      for (let i = d.offset; i < rows; i++) {
        const k = Number(idx[i]);
        if (!(k >= 0 && k < dict.length) && isValid(d, i)) {
          return `has index ${k} at row ${i - d.offset}, outside its dictionary of ${dict.length}`;
        }
      }
      return undefined;
    }
    case Type.Int:
    case Type.Float:
    case Type.Date:
    case Type.Time:
    case Type.Timestamp:
    case Type.Interval:
    case Type.Duration:
    case Type.Decimal:
    case Type.FixedSizeBinary:
      return checkFixed(d, rows);
    default:
      // other types (unions, maps, fixed-size lists, views) are not written by lowbit: check
      // what every type has, the children's lengths
      for (const child of d.children) {
        const p = checkData(child, depth + 1);
        if (p) return p;
      }
      return undefined;
  }
}

function isValid(d: Data, i: number): boolean {
  const bitmap = d.nullBitmap;
  if (!bitmap || bitmap.length === 0) return true;
  return ((bitmap[i >> 3] >> (i & 7)) & 1) === 1;
}

function checkFixed(d: Data, rows: number): string | undefined {
  const have = d.values?.length ?? 0;
  const need = rows * (d.stride || 1);
  return have < need ? `holds ${have} values for ${rows} rows (${need} needed)` : undefined;
}

function checkOffsets(d: Data, rows: number, size: number, unit: string): string | undefined {
  const off = d.valueOffsets as ArrayLike<number | bigint> | undefined;
  if (!off || off.length < rows + 1) {
    return `has ${off?.length ?? 0} offsets for ${rows} rows (${rows + 1} needed)`;
  }
  let prev = Number(off[d.offset]);
  if (!(prev >= 0)) return `has a negative first offset ${prev}`;
  for (let i = d.offset + 1; i <= rows; i++) {
    const o = Number(off[i]);
    if (!(o >= prev)) return `has offsets that fall (${prev} then ${o} at row ${i - d.offset})`;
    prev = o;
  }
  return prev > size ? `has offsets up to ${prev} into ${size} ${unit}` : undefined;
}
