"""The pages under ``docs/`` against the code they describe.

- ``docs/errors.md`` lists every registered problem code, with its status and title;
- ``docs/settings.md`` lists every setting as its ``BASTION_*`` variable, with its
  default, and every start-up check id; no page names a variable that does not exist;
- every ```` ```python ```` block of every page runs: the blocks of one page in
  order, as one module in a fresh interpreter, without ``BASTION_*`` variables and
  in an empty directory. A block preceded by ``<!-- not-tested -->`` is skipped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from bastion import BastionSettings

pytestmark = pytest.mark.core

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SKIP_MARKER = "<!-- not-tested -->"
# BASTION_* variables that are not settings, and the file that reads each.
OTHER_VARIABLES = {
    "BASTION_APP": ROOT / "src" / "bastion" / "cli" / "main.py",
    "BASTION_TEST_POSTGRES_URL": ROOT / "tests" / "conftest.py",
    "BASTION_TEST_REDIS_URL": ROOT / "tests" / "conftest.py",
}
VARIABLE = re.compile(r"\bBASTION_[A-Z0-9_]+")
CODE_CELL = re.compile(r"^`([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)`$")
CHECK_ID = re.compile(r"^[a-z][a-z0-9_]*\.[EW]\d{3}$")


def _table_rows(page: Path) -> list[list[str]]:
    """The cells of every Markdown table row of ``page``, header rows included."""
    rows = []
    for line in page.read_text().splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|") and not set(line) <= set("|-: "):
            rows.append([cell.strip() for cell in line[1:-1].split("|")])
    return rows


# -- problem codes -------------------------------------------------------------------


def _registered_codes() -> dict[str, tuple[int, str]]:
    """Codes of the framework and the reference app, from a fresh interpreter:
    tests and doc examples register codes of their own in this one."""
    script = (
        "import json, bastion, examples.taskboard.router\n"
        "codes = bastion.registered_codes().items()\n"
        "print(json.dumps({code: [e.status, e.title] for code, e in codes}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return {code: (status, title) for code, (status, title) in found.items()}


def _documented_codes() -> dict[str, tuple[int, str]]:
    """``| `code` | status | title | ... |`` rows of docs/errors.md."""
    documented: dict[str, tuple[int, str]] = {}
    for cells in _table_rows(DOCS / "errors.md"):
        match = CODE_CELL.match(cells[0])
        if match is None or len(cells) < 3:
            continue
        code = match[1]
        assert code not in documented, f"docs/errors.md lists {code} twice"
        documented[code] = (int(cells[1]), cells[2].strip("`"))
    return documented


def test_errors_page_lists_every_registered_code() -> None:
    documented = _documented_codes()
    registered = _registered_codes()
    missing = sorted(registered.keys() - documented.keys())
    extra = sorted(documented.keys() - registered.keys())
    assert not missing, f"docs/errors.md does not list these registered codes: {missing}"
    assert not extra, f"docs/errors.md lists codes that are not registered: {extra}"
    wrong = {
        code: {"docs": documented[code], "code": registered[code]}
        for code in registered
        if documented[code] != registered[code]
    }
    assert not wrong, f"status or title in docs/errors.md differ from the code: {wrong}"


# -- settings ------------------------------------------------------------------------


def _settings_variables(model: type[BaseModel], prefix: str = "BASTION_") -> dict[str, Any]:
    """Every setting as ``{environment variable: default}``, nested sections flattened."""
    variables: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        variable = prefix + (field.alias or name).upper()
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            variables.update(_settings_variables(annotation, variable + "__"))
        else:
            variables[variable] = field.get_default(call_default_factory=True)
    return variables


def _render_default(value: Any) -> str:
    """A default as docs/settings.md writes it (backticks aside)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value)) if value else "empty"
    return str(value)


def _documented_settings() -> dict[str, str]:
    """``| `BASTION_X` | type | default | description |`` rows of docs/settings.md."""
    documented: dict[str, str] = {}
    for cells in _table_rows(DOCS / "settings.md"):
        if len(cells) == 4 and re.fullmatch(r"`BASTION_[A-Z0-9_]+`", cells[0]):
            variable = cells[0].strip("`")
            assert variable not in documented, f"docs/settings.md lists {variable} twice"
            documented[variable] = cells[2].replace("`", "").strip()
    return documented


def test_settings_page_lists_every_setting_with_its_default() -> None:
    variables = _settings_variables(BastionSettings)
    documented = _documented_settings()
    missing = sorted(variables.keys() - documented.keys())
    extra = sorted(documented.keys() - variables.keys())
    assert not missing, f"docs/settings.md has no row for these settings: {missing}"
    assert not extra, f"docs/settings.md has rows for variables that are no settings: {extra}"
    wrong = {
        variable: {"docs": documented[variable], "code": _render_default(default)}
        for variable, default in variables.items()
        if documented[variable] != _render_default(default)
    }
    assert not wrong, f"defaults in docs/settings.md differ from the code: {wrong}"


def test_docs_name_only_variables_that_exist() -> None:
    settings = _settings_variables(BastionSettings).keys()
    for variable, reader in OTHER_VARIABLES.items():
        assert variable in reader.read_text(), f"{reader} no longer reads {variable}"
    unknown = set()
    for page in DOCS.glob("*.md"):
        for name in VARIABLE.findall(page.read_text()):
            if name.endswith("__"):  # a section prefix: BASTION_CORS__*
                known = any(s.startswith(name) for s in settings)
            else:
                known = name in settings or name in OTHER_VARIABLES
            if not known:
                unknown.add(f"{page.name}: {name}")
    assert not unknown, f"the docs name variables that nothing reads: {sorted(unknown)}"


def test_settings_page_lists_every_start_up_check() -> None:
    in_code = set()
    for source in (ROOT / "src" / "bastion").rglob("*.py"):
        in_code.update(re.findall(r"\"([a-z][a-z0-9_]*\.[EW]\d{3})\"", source.read_text()))
    documented = {
        cells[0].strip("`")
        for cells in _table_rows(DOCS / "settings.md")
        if CHECK_ID.match(cells[0].strip("`"))
    }
    assert in_code, "found no check ids in src/bastion; has their form changed?"
    assert not in_code - documented, f"checks missing in docs/settings.md: {in_code - documented}"
    assert not documented - in_code, (
        f"docs/settings.md lists unknown checks: {documented - in_code}"
    )


# -- examples ------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    line: int  # of the first line of code in the page
    source: str
    skipped: bool


def _python_blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```python":
            start = end = index + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            assert end < len(lines), f"{page.name}:{index + 1}: the code block never ends"
            previous = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
            source = textwrap.dedent("\n".join(lines[start:end]))
            blocks.append(Block(start + 1, source, previous == SKIP_MARKER))
            index = end
        index += 1
    return blocks


PAGES_WITH_EXAMPLES = sorted(
    page for page in DOCS.glob("*.md") if any(not b.skipped for b in _python_blocks(page))
)
# Runs the blocks it reads on stdin as one module. Padding keeps line numbers, so
# that a traceback points into the page.
RUNNER = """
import json, sys, types
page, blocks = json.load(sys.stdin)
module = types.ModuleType("docs_example")
module.__file__ = page
sys.modules[module.__name__] = module
for line, source in blocks:
    exec(compile("\\n" * (line - 1) + source, page, "exec"), module.__dict__)
"""


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda page: page.name)
def test_examples_run(page: Path, tmp_path: Path) -> None:
    # A fresh interpreter per page, as a reader would run it: examples define
    # tables, problem codes and settings that must not leak into other tests.
    blocks = [(b.line, b.source) for b in _python_blocks(page) if not b.skipped]
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("BASTION_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps([str(page), blocks]),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"an example of {page.name} failed:\n{result.stderr[-6000:]}", pytrace=False)
