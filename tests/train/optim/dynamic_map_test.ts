import { assert, assertEquals } from "@std/assert";
import { dynamicMap, dynamicMaps } from "../../../train/optim/dynamic_map.ts";

Deno.test("dynamicMap: 256 sorted values, 2^e (signed) or 2^(e+1) per decade, 0 and 1", () => {
  for (const signed of [true, false]) {
    const m = dynamicMap(signed);
    assertEquals(m.length, 256);
    for (let i = 1; i < 256; i++) assert(m[i] > m[i - 1], `strictly increasing at ${i}`);
    assertEquals([m.includes(0), m[255]], [true, 1]);
    const pos = Array.from(m).filter((v) => v > 0 && v < 1);
    for (let e = 0; e < 7; e++) {
      const lo = 10 ** (e - 7), hi = 10 ** (e - 6);
      const count = pos.filter((v) => v > lo && v < hi).length;
      assertEquals(count, signed ? 2 ** e : 2 ** (e + 1), `decade ${e} (signed ${signed})`);
    }
    if (signed) {
      // symmetric: every negative value is minus a positive one (1 has no negative twin)
      const neg = Array.from(m).filter((v) => v < 0).map((v) => -v).sort((a, b) => a - b);
      assertEquals(neg, pos);
    } else assertEquals(m[0], 0);
  }
  const both = dynamicMaps();
  assertEquals([both.slice(0, 256), both.slice(256)], [dynamicMap(true), dynamicMap(false)]);
});
