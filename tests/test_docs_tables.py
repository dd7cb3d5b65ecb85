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
