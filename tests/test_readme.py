"""The README stands on its own: it cites no document that is not in the repo, and the
figures it quotes are the ones ``bench/RESULTS.md`` records."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
RESULTS = (ROOT / "bench" / "RESULTS.md").read_text()


def test_readme_cites_no_document_outside_the_repo() -> None:
    assert "DESIGN.md" not in README
    assert not re.search(r"\bseeds? ?0\d\d", README, re.IGNORECASE)
    assert "§" not in README


def test_readme_links_point_at_files_in_the_repo() -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" in target:
            continue
        assert (ROOT / target).exists(), target


def test_metrics_scrape_figure_matches_results() -> None:
    quoted = re.search(r"scrape p50 ([\d.]+) ms, p95 ([\d.]+) ms", README)
    assert quoted, "README quotes the /metrics scrape figures"
    # The row of the DuckDB query benchmark's own section (other sections time a scrape
    # on other stores or before/after a change).
    section = RESULTS.split("\n## Queries over 10 M events", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in section.splitlines() if line.startswith("| `/metrics` scrape"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    p50, p95 = float(cells[1]), float(cells[2])
    assert round(p50) == round(float(quoted.group(1)))
    assert round(p95) == round(float(quoted.group(2)))
