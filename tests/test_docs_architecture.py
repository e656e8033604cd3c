"""docs/architecture.md describes the house as it is: its floors are import-linter's, its files exist."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text()
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def floors_in_the_diagram() -> list[str]:
    diagram = re.search(r"```\n(.*?)```", DOC, flags=re.S).group(1)
    return [line.split("  ")[0].strip() for line in diagram.splitlines() if line and not line.startswith(" ")]


def test_the_diagram_shows_the_floors_lint_enforces_in_their_order():
    [layers] = [contract["layers"] for contract in CONTRACTS if contract["type"] == "layers"]
    assert floors_in_the_diagram() == layers


def test_every_app_of_the_project_has_its_floor():
    apps = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    drawn = {app for floor in floors_in_the_diagram() for app in floor.split(" | ")}
    assert drawn == apps


def test_every_file_the_page_names_exists():
    named = set(re.findall(r"`([a-z_]+/[a-z_/]+\.py)`", DOC))
    assert named, "the walk through a trigger names its modules"
    assert [path for path in sorted(named) if not (ROOT / path).is_file()] == []
