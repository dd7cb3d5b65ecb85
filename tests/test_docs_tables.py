"""Every results table in the docs equals what its committed JSON renders to."""

from experiments import docs_tables


def test_generated_tables_match_their_json():
    tables = docs_tables.render_all()
    assert "video_protocol.rst" in tables
    for name, text in tables.items():
        committed = (docs_tables.GENERATED / name).read_text()
        assert committed == text, f"docs/_generated/{name}: run python -m experiments.docs_tables"


def test_a_table_shows_its_source_and_its_numbers():
    text = docs_tables.render_all()["video_protocol.rst"]
    assert "docs/results/video-protocol" in text
    run = docs_tables._protocol_runs()[0]
    final = run["curve"][-1][1] / run["blank"]
    assert f"{final:.3f}" in text


def test_a_missing_value_is_not_read_as_a_bullet_list():
    from docutils import nodes
    from docutils.core import publish_doctree

    tree = publish_doctree(docs_tables.list_table(["model", "params"], [["blank", "-"]], "x"))
    assert not list(tree.findall(nodes.bullet_list))
    assert len(list(tree.findall(nodes.entry))) == 4


def test_the_video_table_quotes_its_json():
    import json

    rows = json.loads((docs_tables.RESULTS / "video-cpu" / "table.json").read_text())
    text = docs_tables.render_all()["video_cpu.rst"]
    blank = next(r["test_mse"] for r in rows if r["model"] == "blank_frame")
    for row in rows:
        assert f"{row['test_mse'] / blank:.3f}" in text and f"{row['test_psnr']:.2f}" in text
