"""Check the built HTML docs render on their own: no network, formulas typeset.

    python docs/check_built.py docs/_build/html [--screenshots DIR]

Every page loads scripts and styles from the build only (no ``http(s)://`` ``src``/``href``
of a script or stylesheet), the vendored MathJax is there, and no formula shows a literal
``\\_``. Then headless Chromium loads every page that has maths or a table, 1280 px wide,
with every host unresolvable, and checks that MathJax typeset each formula (no raw
``\\(...\\)`` left, no "Math Processing Error") and that no table is wider than the
page's text column (and writes screenshots with ``--screenshots``). Without a Chromium
the check fails: ``make
docs`` installs Debian's ``chromium`` first where it can.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REMOTE = re.compile(r"<(?:script|link)\b[^>]*(?:src|href)=\"(https?:)?//[^\"]*\"", re.I)
MATHS = re.compile(r'class="math|\\\(')  # a page with formulas, before MathJax runs
TABLE = re.compile(r"<table\b")
#: The reader's window: a laptop browser, where a table must fit the text column.
WIDTH = 1280
#: Run in a copy of a page with tables: each table wider than the article (the text
#: column) is named, by its caption, in an attribute of <body> that --dump-dom shows.
MEASURE_TABLES = """<script>
window.addEventListener("load", () => {
  const column = (document.querySelector("article") || document.body).getBoundingClientRect();
  const wide = [];
  document.querySelectorAll("table").forEach((table) => {
    const width = table.getBoundingClientRect().width;
    if (width > column.width + 1) {
      const caption = (table.querySelector("caption") || table.rows[0] || table).textContent;
      wide.push(`${Math.round(width)} px > ${Math.round(column.width)} px: `
                + caption.replace(/\\s+/g, " ").trim().slice(0, 90));
    }
  });
  document.body.setAttribute("data-wide-tables", wide.join(" ;; "));
});
</script>"""
WIDE = re.compile(r'data-wide-tables="([^"]*)"')
OFFLINE_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--virtual-time-budget=15000",
]


#: ``\_`` inside ``\text{...}``: MathJax typesets text literally, so the reader sees a
#: backslash (write ``\text{fan_in}``).
TEXT_UNDERSCORE = re.compile(r"\\text\{[^}]*\\_")


#: A cross-reference Sphinx could not resolve renders as a bare ``<code class="xref ...">``;
#: those to torch's types must resolve through the local inventory (``docs/conf.py``).
UNLINKED = re.compile(
    r'(?<!">)<code class="xref py py-\w+ docutils literal notranslate"><span class="pre">'
    r"((?:torch\.|nn\.)[\w.]*|Module|Tensor|Optimizer|Dataset)(?:\(\))?</span>"
)


def static_problems(root: Path) -> list[str]:
    problems = []
    if not (root / "_static" / "mathjax" / "MathJax.js").exists():
        problems.append("_static/mathjax/MathJax.js is missing")
    for page in sorted(root.rglob("*.html")):
        if "_modules" in page.parts or "_sources" in page.parts:
            continue
        text = page.read_text(errors="replace")
        for match in REMOTE.finditer(text):
            problems.append(f"{page.relative_to(root)} loads {match.group(0)[:120]}")
        for match in TEXT_UNDERSCORE.finditer(text):
            problems.append(f"{page.relative_to(root)} shows a literal \\_: {match.group(0)}")
        for match in UNLINKED.finditer(text):
            problems.append(f"{page.relative_to(root)} does not link torch's {match.group(1)}: "
                            "add it to TORCH_OBJECTS in docs/conf.py")  # fmt: skip
    return problems


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def rendered_pages(root: Path) -> list[str]:
    """Every page of the docs with a formula or a table (module-source pages excluded)."""
    return sorted(
        str(page.relative_to(root)) for page in root.rglob("*.html")
        if "_modules" not in page.parts and "_static" not in page.parts
        and not page.name.startswith(".")
        and (MATHS.search(text := page.read_text(errors="replace")) or TABLE.search(text))
    )  # fmt: skip


def _page_problems(browser: str, root: Path, page: str, screenshots: Path | None) -> list[str]:
    source = root / page
    text = source.read_text(errors="replace")
    has_maths = bool(MATHS.search(text))
    # measured in a copy beside the page, so that its relative links still resolve
    probe = source.with_name(f".{source.stem}.check.html")
    probe.write_text(text.replace("</body>", MEASURE_TABLES + "</body>", 1))
    try:
        with tempfile.TemporaryDirectory() as profile:
            flags = [*OFFLINE_FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},1000"]
            dom = subprocess.run([browser, *flags, "--dump-dom", probe.resolve().as_uri()],
                                 capture_output=True, text=True, timeout=180).stdout  # fmt: skip
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                shot = screenshots / (page.replace("/", "_").replace(".html", ".png"))
                subprocess.run([browser, *flags, f"--screenshot={shot}",
                                source.resolve().as_uri()], capture_output=True,
                               timeout=180)  # fmt: skip
    finally:
        probe.unlink(missing_ok=True)
    problems = []
    if has_maths:
        typeset = dom.count("MathJax_CHTML") + dom.count('class="MathJax')
        raw = dom.count("\\(")
        errors = dom.count("Math Processing Error")
        if typeset == 0:
            problems.append(f"{page}: no typeset formula in the rendered page")
        if raw > 0:
            problems.append(f"{page}: {raw} formulas left as raw \\( ... \\)")
        if errors > 0:
            problems.append(f"{page}: {errors} formulas show [Math Processing Error]")
    measured = WIDE.search(dom)
    if measured is None:
        problems.append(f"{page}: the table measurement did not run")
    elif measured.group(1):
        for table in html.unescape(measured.group(1)).split(" ;; "):
            problems.append(f"{page}: a table wider than the text column at {WIDTH} px ({table})")
    return problems


def browser_problems(root: Path, screenshots: Path | None) -> tuple[list[str], list[str]]:
    """(problems, pages checked); a missing browser is a problem, not a skip."""
    browser = _chromium()
    if browser is None:
        return ["no Chromium to render the pages with (apt-get install chromium)"], []
    pages = rendered_pages(root)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        found = pool.map(lambda page: _page_problems(browser, root, page, screenshots), pages)
        problems = [p for page_problems in found for p in page_problems]
    return problems, pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the built HTML folder")
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args(argv)
    problems = static_problems(args.root)
    rendered, pages = browser_problems(args.root, args.screenshots)
    problems += rendered
    for problem in problems:
        print(f"docs check: {problem}", file=sys.stderr)
    if not problems:
        print(
            f"docs check: {args.root} is self-contained; every formula typeset offline, "
            f"without error, every table within the text column at {WIDTH} px ({len(pages)} pages)"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
