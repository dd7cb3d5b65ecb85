"""Check the built HTML docs render on their own: no network, formulas typeset.

    python docs/check_built.py docs/_build/html [--screenshots DIR]

Always: every page loads scripts and styles from the build only (no ``http(s)://``
``src``/``href`` of a script or stylesheet), and the vendored MathJax is there. When a
Chromium is installed, it also loads pages headless with every host unresolvable and
checks that MathJax replaced the raw ``\\(...\\)`` by typeset output (and writes
screenshots with ``--screenshots``); without one it says so and skips that part.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REMOTE = re.compile(r"<(?:script|link)\b[^>]*(?:src|href)=\"(https?:)?//[^\"]*\"", re.I)
PAGES = ("theory/unitary.html", "theory/cells.html", "theory/arma.html")  # pages with maths
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


def static_problems(root: Path) -> list[str]:
    problems = []
    if not (root / "_static" / "mathjax" / "MathJax.js").exists():
        problems.append("_static/mathjax/MathJax.js is missing")
    for page in sorted(root.rglob("*.html")):
        for match in REMOTE.finditer(page.read_text(errors="replace")):
            problems.append(f"{page.relative_to(root)} loads {match.group(0)[:120]}")
    return problems


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def browser_problems(root: Path, screenshots: Path | None) -> list[str] | None:
    browser = _chromium()
    if browser is None:
        return None
    problems = []
    for page in PAGES:
        url = (root / page).resolve().as_uri()
        with tempfile.TemporaryDirectory() as profile:
            flags = [*OFFLINE_FLAGS, f"--user-data-dir={profile}"]
            dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True,
                                 text=True, timeout=120).stdout  # fmt: skip
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                shot = screenshots / (page.replace("/", "_").replace(".html", ".png"))
                subprocess.run([browser, *flags, "--window-size=1200,1600",
                                f"--screenshot={shot}", url], capture_output=True,
                               timeout=120)  # fmt: skip
        typeset = dom.count("MathJax_CHTML") + dom.count('class="MathJax"')
        raw = dom.count("\\(")
        if typeset == 0:
            problems.append(f"{page}: no typeset formula in the rendered page")
        elif raw > 0:
            problems.append(f"{page}: {raw} formulas left as raw \\( ... \\)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the built HTML folder")
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args(argv)
    problems = static_problems(args.root)
    rendered = browser_problems(args.root, args.screenshots)
    if rendered is None:
        print("docs check: no Chromium here, skipped the rendered-page check")
    else:
        problems += rendered
    for problem in problems:
        print(f"docs check: {problem}", file=sys.stderr)
    if not problems:
        print(
            f"docs check: {args.root} is self-contained"
            + ("" if rendered is None else f"; formulas typeset offline in {', '.join(PAGES)}")
        )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
