/**
 * Test helpers: build safetensors bytes by hand, exactly per the format
 * description, without going through lowbit's writer.
 *
 * @example
 * ```ts
 * import { craft } from "./safetensors_helpers.ts";
 * const bytes = craft('{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array([3]));
 * console.log(bytes.length); // 8 + 52 + 1
 * ```
 * @module
 */

/**
 * Returns `u64le(header length) ‖ header ‖ data`. `header` may be an object
 * (JSON-encoded) or a string (used verbatim); `length` overrides the length
 * field, for malformed files.
 *
 * @example
 * ```ts
 * import { craft } from "./safetensors_helpers.ts";
 * console.log(craft("{}", new Uint8Array(0)).length); // 10
 * ```
 */
export function craft(
  header: string | Record<string, unknown>,
  data: Uint8Array,
  length?: bigint,
): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/**
 * Little-endian bytes of a typed array (a copy).
 *
 * @example
 * ```ts
 * import { bytesOf } from "./safetensors_helpers.ts";
 * console.log(bytesOf(new Uint16Array([0x0102]))); // Uint8Array [2, 1]
 * ```
 */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}
