"""README's result tables are the ones benchmarks/tables.py builds from
benchmarks/results/*.json: after a benchmark is rerun, `python
benchmarks/tables.py` brings them up to date."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

# benchmarks/ is a folder of scripts, not a package: load tables.py from its file
_spec = importlib.util.spec_from_file_location("tables", ROOT / "benchmarks" / "tables.py")
tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tables)

FIGURE = re.compile(r"\d\.\d|\d ?%|\dx\b")  # 0.874, 24%, 2.56x: what a measurement prints


def unmarked_tables(text):
    """The Markdown tables outside the table markers and code blocks, each as one string."""
    text = tables.MARKED.sub("", text)
    text = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.findall(r"(?:^\|.*\n)+", text, flags=re.MULTILINE)


def test_every_table_has_its_markers():
    assert tables.unplaced(README) == []


@pytest.mark.parametrize("name", tables.TABLES)
def test_marked_table_matches_its_json(name):
    assert tables.marked(README).get(name) == tables.render(name), (
        f"README's {name} table differs from benchmarks/results/{name}.json: "
        "run `python benchmarks/tables.py`")


def test_every_table_of_figures_is_marked():
    with_figures = [table for table in unmarked_tables(README) if FIGURE.search(table)]
    assert with_figures == [], "tables of figures typed by hand; build them in benchmarks/tables.py"


def test_check_names_a_stale_table_and_rewriting_mends_it(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README.replace(tables.marked(README)["overhead"], "\n| typed | 0.5 |\n\n"))
    assert tables.main(["--check", "--readme", str(readme)]) == 1
    assert capsys.readouterr().out == "overhead: stale, README differs from results/overhead.json\n"
    assert tables.main(["--readme", str(readme)]) == 0
    assert readme.read_text() == README
