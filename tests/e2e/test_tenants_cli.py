"""``bastion tenants export|import`` on the reference app's seeded demo org."""

from __future__ import annotations

import pytest

from examples.taskboard.seed import DEMO_ORG_ID
from tests.e2e.test_cli import bastion

pytestmark = [pytest.mark.cli, pytest.mark.tenancy]


def test_export_then_import_into_an_empty_database(tmp_path):
    source = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite+aiosqlite:///{tmp_path / 'target.db'}"
    for step in (("db", "upgrade"), ("db", "seed")):
        assert bastion(*step, database_url=source).returncode == 0
    out = tmp_path / "demo.tar"
    exported = bastion(
        "tenants", "export", str(DEMO_ORG_ID), "--out", str(out), database_url=source
    )
    assert exported.returncode == 0, exported.stderr
    assert "exported" in exported.stdout and out.is_file()

    assert bastion("db", "upgrade", database_url=target).returncode == 0
    imported = bastion("tenants", "import", str(out), database_url=target)
    assert imported.returncode == 0, imported.stderr
    assert f"of tenant {DEMO_ORG_ID}" in imported.stdout
    again = bastion("tenants", "import", str(out), database_url=target)
    assert again.returncode != 0 and "nothing imported" in again.stderr


def test_bad_input_is_a_clear_message(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    assert bastion("db", "upgrade", database_url=url).returncode == 0
    bad_id = bastion(
        "tenants", "export", "acme", "--out", str(tmp_path / "x.tar"), database_url=url
    )
    assert bad_id.returncode != 0 and "UUID" in bad_id.stderr
    unknown = bastion(
        "tenants", "export", str(DEMO_ORG_ID), "--out", str(tmp_path / "x.tar"), database_url=url
    )
    assert unknown.returncode != 0 and "no organization" in unknown.stderr
    assert not (tmp_path / "x.tar").exists()
    garbage = tmp_path / "garbage.tar"
    garbage.write_text("not a tar")
    refused = bastion("tenants", "import", str(garbage), database_url=url)
    assert refused.returncode != 0 and "not a tenant export" in refused.stderr
