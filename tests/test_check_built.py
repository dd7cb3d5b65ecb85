"""The built-docs check catches what it promises: a literal ``\\_`` in a formula and a table
wider than the text column at 1280 px (the second needs Chromium, as ``make docs`` does)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_built", ROOT / "docs" / "check_built.py")
check_built = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_built)


def _page(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"<html><body><article style='width: 400px'>{body}</article>"
                               "</body></html>")  # fmt: skip


def test_a_literal_underscore_in_a_formula_is_a_problem(tmp_path):
    _page(tmp_path, "bad.html", r'<span class="math">\(\text{fan\_in}\)</span>')
    _page(tmp_path, "good.html", r'<span class="math">\(\text{fan_in}\)</span>')
    problems = check_built.static_problems(tmp_path)
    assert any("bad.html shows a literal" in p for p in problems)
    assert not any("good.html" in p for p in problems)


def test_an_unlinked_reference_to_a_torch_type_is_a_problem(tmp_path):
    code = ('<code class="xref py py-class docutils literal notranslate">'
            '<span class="pre">Module</span></code>')  # fmt: skip
    _page(tmp_path, "bad.html", f"Bases: {code}")
    _page(
        tmp_path,
        "good.html",
        f'Bases: <a href="https://pytorch.org/x" title="(in PyTorch)">{code}</a>',
    )
    problems = check_built.static_problems(tmp_path)
    assert any("bad.html does not link torch's Module" in p for p in problems)
    assert not any("good.html" in p for p in problems)


@pytest.mark.skipif(
    check_built._chromium() is None, reason="needs Chromium (make docs installs it)"
)
def test_a_table_wider_than_the_text_column_is_a_problem(tmp_path):
    cells = "".join(f"<td>column{k}</td>" for k in range(8))
    _page(tmp_path, "wide.html", f"<table><caption>wide one</caption><tr>{cells}</tr></table>")
    _page(tmp_path, "narrow.html", "<table><caption>narrow</caption><tr><td>1</td></tr></table>")
    browser = check_built._chromium()
    wide = check_built._page_problems(browser, tmp_path, "wide.html", None)
    assert len(wide) == 1 and "wider than the text column" in wide[0] and "wide one" in wide[0]
    assert check_built._page_problems(browser, tmp_path, "narrow.html", None) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["narrow.html", "wide.html"]
    assert check_built.rendered_pages(tmp_path) == ["narrow.html", "wide.html"]
