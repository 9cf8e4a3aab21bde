import { assert, assertEquals, assertThrows } from "@std/assert";
import { binary, binaryElement, binaryFormat } from "../../../quant/formats/binary.ts";

Deno.test("binary element: 0 → +1, 1 → −1, sign(0) = sign(−0) = +1", () => {
  assertEquals(Array.from(binaryElement.values), [1, -1]);
  assertEquals(binaryElement.encode(0), 0);
  assertEquals(binaryElement.encode(-0), 0);
  assertEquals(binaryElement.encode(-Infinity), 1);
  assertEquals(binaryElement.encode(binaryElement.decode(1)), 1);
  assertThrows(() => binaryElement.encode(NaN), RangeError);
  assertThrows(() => binaryElement.decode(2), RangeError);
});

Deno.test("binary: α = mean|W| per tensor or block; zero block gives zeros", () => {
  const q = binary.quantize([1, -3, 0, 2]);
  assertEquals(q.scales[0], 1.5);
  assertEquals(Array.from(q.codes), [0, 1, 0, 0]);
  assertEquals(Array.from(binary.dequantize(q)), [1.5, -1.5, 1.5, 1.5]);
  const fmt = binaryFormat(2);
  assertEquals(fmt.bitsPerWeight, 17);
  const qb = fmt.quantize([0, 0, -1, 3]);
  assertEquals(Array.from(qb.scales), [0, 2]);
  assertEquals(Array.from(fmt.dequantize(qb)), [0, 0, -2, 2]);
  assertEquals(binary.bitsPerWeight, 1);
  assertThrows(() => binary.quantize([Infinity]), RangeError, "[0] is Infinity");
  assert(binary.dequantize(binary.quantize([])).length === 0);
});
