import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { renderMath } from "../../tools/nb_math.ts";
import { exportHTML } from "../../tools/nb_html.ts";
import { browserTest, chromiumPath } from "../../tools/browser_check.ts";

const md = (inner: string) =>
  `<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-MarkdownOutput ">${inner}</div>`;

Deno.test("renderMath: inline and display math in markdown blocks become KaTeX", () => {
  const out = renderMath(
    md("<p>Step $H \\leftarrow H + \\lambda I$ then</p>\n$$\n\\sum_i x_i\n$$\n"),
  );
  assertEquals(out.match(/class="katex"/g)?.length, 2);
  assertEquals(out.match(/class="katex-display"/g)?.length, 1);
  assertStringIncludes(
    out,
    '<annotation encoding="application/x-tex">H \\leftarrow H + \\lambda I',
  );
  assert(!out.includes("$"), out);
  assert(out.startsWith('<div class="jp-RenderedHTMLCommon'));
  assert(out.endsWith("</div>"));
});

Deno.test("renderMath: HTML entities are TeX characters; escaped dollars stay text", () => {
  const out = renderMath(md("<p>$a &lt; b &gt; c$ costs \\$5, and \\$ alone</p>"));
  assertStringIncludes(
    out,
    '<annotation encoding="application/x-tex">a &lt; b &gt; c</annotation>',
  );
  assertStringIncludes(out, "costs $5, and $ alone</p>");
  assertEquals(out.match(/class="katex"/g)?.length, 1);
});

Deno.test("renderMath: code, outputs and unpaired dollars are left alone", () => {
  const code = "<pre>const s = `${a}`; $x$</pre>";
  assertEquals(renderMath(code), code); // outside markdown blocks
  const inner = md("<p>use <code>$x$</code> and a lone $ sign</p>");
  assertEquals(renderMath(inner), inner);
  assertEquals(renderMath(""), "");
  const nested = md("<div><p>$x$</p></div><p>$y$</p>") + "<p>$z$</p>";
  const out = renderMath(nested);
  assertEquals(out.match(/class="katex"/g)?.length, 2);
  assert(out.endsWith("<p>$z$</p>"), out); // after the block's closing div
});

Deno.test("renderMath: bad TeX is marked as a KaTeX error, not thrown", () => {
  const out = renderMath(md("<p>$\\frac{1$</p>"));
  assertStringIncludes(out, "katex-error");
});

Deno.test("renderMath: the input string is returned unchanged when there is no math", () => {
  const page = md("<p>no math here</p>") + "<p>$1 and $2</p>";
  assertEquals(renderMath(page), page);
});

const NOTEBOOK = {
  cells: [{
    cell_type: "markdown",
    id: "m",
    metadata: {},
    source: [
      "# Math\n",
      "Update $H \\leftarrow H + \\lambda I$.\n",
      "\n",
      "$$\n",
      "\\min_W \\|WX\\|_2^2\n",
      "$$\n",
    ],
  }],
  metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
  nbformat: 4,
  nbformat_minor: 5,
};

Deno.test({
  name: "browser: exported math renders offline; raw math, broken TeX and missing fonts fail",
  ignore: chromiumPath() === "",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const nb = join(dir, "math.ipynb");
      await Deno.writeTextFile(nb, JSON.stringify(NOTEBOOK));
      const [page] = await exportHTML([nb], { outDir: join(dir, "site") });
      const html = await Deno.readTextFile(page);
      assertStringIncludes(html, '<link rel="stylesheet" href="katex/katex.min.css">');
      // a page whose math is left raw (as nbconvert writes it), one with bad TeX
      const raw = join(dir, "site", "raw.html");
      await Deno.writeTextFile(
        raw,
        html.replace(
          /<span class="katex">[\s\S]*?<\/annotation><\/semantics><\/math><\/span>/,
          "$x^2$",
        ),
      );
      const bad = join(dir, "site", "bad.html");
      await Deno.writeTextFile(bad, renderMath(md("<p>$\\frac{1$</p>")));
      let [good, rawReport, badReport] = await browserTest([page, raw, bad]);
      assert(good.ok, good.problems.join("\n"));
      assertEquals(good.math, 2);
      assert(!rawReport.ok);
      assertStringIncludes(rawReport.problems.join("\n"), "raw math expressions");
      assertStringIncludes(badReport.problems.join("\n"), "KaTeX errors");
      // without the copied fonts, the same page fails
      await Deno.remove(join(dir, "site", "katex", "fonts"), { recursive: true });
      [good] = await browserTest([page]);
      assert(!good.ok);
      assertStringIncludes(good.problems.join("\n"), "KaTeX fonts not loaded");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
