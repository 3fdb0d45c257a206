// The VICI message layer: a tree of sections, key/values and lists, encoded as a flat sequence of
// elements (strongSwan src/libcharon/plugins/vici/README.md, "Message format"):
//
//   SECTION_START 1  name8          KEY_VALUE 3  name8 value16     LIST_ITEM 5  value16
//   SECTION_END   2                 LIST_START 4 name8             LIST_END  6
//
// name8 is an 8-bit length then that many bytes, value16 a 16-bit big-endian length then the blob.
// Values are blobs; charon only ever sends strings (numbers as decimal text, booleans as yes/no).
//
// Decoded trees are plain objects, in wire order. One caveat of plain objects: JavaScript enumerates
// integer-like keys ("0", "1", "10") first and in numeric order, whatever order they came in.
import { ViciEncodeError, ViciParseError } from './vici.errors.js';

export const ViciElement = {
  SECTION_START: 1,
  SECTION_END: 2,
  KEY_VALUE: 3,
  LIST_START: 4,
  LIST_ITEM: 5,
  LIST_END: 6,
} as const;

/** A decoded tree with leaves of type V. */
export interface ViciTree<V> {
  [key: string]: V | V[] | ViciTree<V>;
}

/** A decoded message, values as UTF-8 strings. */
export type ViciSection = ViciTree<string>;
/** A decoded message, values as the bytes charon sent (certificates, non-UTF-8 data). */
export type ViciRawSection = ViciTree<Buffer>;

/** A scalar to encode: numbers as decimal text, booleans as `yes`/`no`, bytes as they are. */
export type ViciScalar = string | number | boolean | Uint8Array;

/** A message to encode. Keys whose value is `undefined` are left out. */
export interface ViciInput {
  [key: string]: ViciScalar | readonly ViciScalar[] | ViciInput | undefined;
}

const MAX_NAME_BYTES = 0xff;
const MAX_VALUE_BYTES = 0xffff;

export function encodeMessage(message: ViciInput): Buffer {
  const out: Buffer[] = [];
  encodeSection(message, out, '');
  return Buffer.concat(out);
}

function encodeSection(section: ViciInput, out: Buffer[], path: string): void {
  for (const [key, value] of Object.entries(section)) {
    if (value === undefined) continue;
    const at = path === '' ? key : `${path}.${key}`;
    if (Array.isArray(value)) {
      out.push(Buffer.of(ViciElement.LIST_START), encodeName(key, at));
      (value as readonly ViciScalar[]).forEach((item, i) => {
        out.push(Buffer.of(ViciElement.LIST_ITEM), encodeValue(item, `${at}[${i}]`));
      });
      out.push(Buffer.of(ViciElement.LIST_END));
    } else if (isScalar(value)) {
      out.push(Buffer.of(ViciElement.KEY_VALUE), encodeName(key, at), encodeValue(value, at));
    } else if (typeof value === 'object' && value !== null) {
      out.push(Buffer.of(ViciElement.SECTION_START), encodeName(key, at));
      encodeSection(value as ViciInput, out, at);
      out.push(Buffer.of(ViciElement.SECTION_END));
    } else {
      throw new ViciEncodeError(`VICI message: '${at}' is a ${typeof value}, not a value, list or section`);
    }
  }
}

function isScalar(value: unknown): value is ViciScalar {
  return (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    value instanceof Uint8Array
  );
}

function encodeName(name: string, at: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > MAX_NAME_BYTES) {
    throw new ViciEncodeError(`VICI message: the name of '${at}' is ${bytes.length} bytes, at most 255`);
  }
  return Buffer.concat([Buffer.of(bytes.length), bytes]);
}

function encodeValue(value: unknown, at: string): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (typeof value === 'boolean') bytes = Buffer.from(value ? 'yes' : 'no');
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ViciEncodeError(`VICI message: '${at}' is not a finite number`);
    bytes = Buffer.from(String(value));
  } else if (value instanceof Uint8Array) bytes = Buffer.from(value.buffer, value.byteOffset, value.length);
  else throw new ViciEncodeError(`VICI message: '${at}' is a ${typeof value}, not a value`);
  // The length only: the value may be a secret (a PSK, a private key).
  if (bytes.length > MAX_VALUE_BYTES) {
    throw new ViciEncodeError(`VICI message: the value of '${at}' is ${bytes.length} bytes, at most 65535`);
  }
  const head = Buffer.alloc(2);
  head.writeUInt16BE(bytes.length);
  return Buffer.concat([head, bytes]);
}

/** Decodes a message with values as UTF-8 strings. Throws ViciParseError on anything malformed. */
export function decodeMessage(bytes: Uint8Array): ViciSection {
  return decodeTree(bytes, (b) => b.toString('utf8'));
}

/** Decodes a message with values as Buffers (copies, not views into `bytes`). */
export function decodeMessageRaw(bytes: Uint8Array): ViciRawSection {
  return decodeTree(bytes, (b) => Buffer.from(b));
}

function decodeTree<V>(input: Uint8Array, leaf: (value: Buffer) => V): ViciTree<V> {
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.length);
  let pos = 0;
  const need = (n: number, what: string): void => {
    if (pos + n > bytes.length) {
      throw new ViciParseError(`VICI message truncated in ${what} at byte ${pos} of ${bytes.length}`);
    }
  };
  const readName = (what: string): string => {
    need(1, `the length of a ${what} name`);
    const len = bytes.readUInt8(pos);
    need(1 + len, `a ${what} name`);
    const name = bytes.toString('utf8', pos + 1, pos + 1 + len);
    pos += 1 + len;
    return name;
  };
  const readValue = (what: string): V => {
    need(2, `the length of a ${what}`);
    const len = bytes.readUInt16BE(pos);
    need(2 + len, `a ${what}`);
    const value = leaf(bytes.subarray(pos + 2, pos + 2 + len));
    pos += 2 + len;
    return value;
  };

  const root: ViciTree<V> = {};
  const stack: ViciTree<V>[] = [root];
  let list: V[] | undefined;
  const current = (): ViciTree<V> => stack[stack.length - 1] ?? root;
  const put = (section: ViciTree<V>, name: string, value: V | V[] | ViciTree<V>): void => {
    if (Object.hasOwn(section, name)) throw new ViciParseError(`VICI message: duplicate key '${name}'`);
    // defineProperty, not assignment: a key named "__proto__" must become data, not a prototype.
    Object.defineProperty(section, name, { value, enumerable: true, writable: true, configurable: true });
  };

  while (pos < bytes.length) {
    const type = bytes.readUInt8(pos);
    const at = pos;
    pos += 1;
    const inList = list !== undefined;
    switch (type) {
      case ViciElement.SECTION_START: {
        if (inList) throw new ViciParseError(`VICI message: a section starts inside a list at byte ${at}`);
        const name = readName('section');
        const section: ViciTree<V> = {};
        put(current(), name, section);
        stack.push(section);
        break;
      }
      case ViciElement.SECTION_END:
        if (inList) throw new ViciParseError(`VICI message: a section ends inside a list at byte ${at}`);
        if (stack.length <= 1) throw new ViciParseError(`VICI message: a section end without start at ${at}`);
        stack.pop();
        break;
      case ViciElement.KEY_VALUE: {
        if (inList) throw new ViciParseError(`VICI message: a key/value inside a list at byte ${at}`);
        const name = readName('key');
        put(current(), name, readValue('value'));
        break;
      }
      case ViciElement.LIST_START: {
        if (inList) throw new ViciParseError(`VICI message: a list inside a list at byte ${at}`);
        const name = readName('list');
        const items: V[] = [];
        put(current(), name, items);
        list = items;
        break;
      }
      case ViciElement.LIST_ITEM:
        if (!list) throw new ViciParseError(`VICI message: a list item outside a list at byte ${at}`);
        list.push(readValue('list item'));
        break;
      case ViciElement.LIST_END:
        if (!inList) throw new ViciParseError(`VICI message: a list end without start at byte ${at}`);
        list = undefined;
        break;
      default:
        throw new ViciParseError(`VICI message: unknown element type ${type} at byte ${at}`);
    }
  }
  if (list) throw new ViciParseError('VICI message ends inside a list');
  if (stack.length > 1)
    throw new ViciParseError(`VICI message ends with ${stack.length - 1} open section(s)`);
  return root;
}
