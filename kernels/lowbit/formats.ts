/**
 * The built-in packed formats by name: each name maps to the {@link Storage}
 * its family file defines (int.ts, ternary.ts, binary.ts, fp4.ts, nf4.ts,
 * codebook.ts). Names are for callers that pick a format by string; the
 * kernels read the storage a weight carries.
 *
 * @example
 * ```ts
 * import { formatInfo } from "./formats.ts";
 * console.log(formatInfo("int3").unitWords, formatInfo("nvfp4").scale); // 3 "e4m3"
 * ```
 * @module
 */
import type { Storage } from "./codegen.ts";
import { BINARY } from "./binary.ts";
import { codebookStorage } from "./codebook.ts";
import { FP4, MXFP4, NVFP4 } from "./fp4.ts";
import { intStorage } from "./int.ts";
import { NF4 } from "./nf4.ts";
import { TERNARY, TERNARY5 } from "./ternary.ts";

/** Names of the built-in packed weight formats. */
export type LowbitFormat =
  | "int8"
  | "int7"
  | "int6"
  | "int5"
  | "int4"
  | "int3"
  | "int2"
  | "ternary"
  | "ternary5"
  | "binary"
  | "fp4"
  | "nvfp4"
  | "mxfp4"
  | "nf4"
  | `codebook${1 | 2 | 3 | 4 | 5 | 6 | 7 | 8}`;

/** Static facts about a format's storage, with its decoder (the {@link Storage} contract). */
export type FormatInfo = Storage;

const FORMATS: Record<string, Storage> = {
  ternary: TERNARY,
  ternary5: TERNARY5,
  binary: BINARY,
  fp4: FP4,
  nvfp4: NVFP4,
  mxfp4: MXFP4,
  nf4: NF4,
};
for (let b = 2; b <= 8; b++) FORMATS[`int${b}`] = intStorage(b);
for (let b = 1; b <= 8; b++) FORMATS[`codebook${b}`] = codebookStorage(b);

/**
 * Storage of a built-in format, or a RangeError listing the known formats.
 * A {@link Storage} passed in is returned as it is.
 *
 * @example
 * ```ts
 * import { formatInfo } from "./formats.ts";
 * console.log(formatInfo("int3")); // { bits: 3, unitCodes: 32, unitWords: 3, … }
 * ```
 */
export function formatInfo(format: string | Storage): Storage {
  if (typeof format !== "string") return format;
  const f = FORMATS[format];
  if (!f) {
    throw new RangeError(
      `unknown low-bit format "${format}"; one of ${Object.keys(FORMATS).join(", ")}`,
    );
  }
  return f;
}
