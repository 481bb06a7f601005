"""``bastion keys rotate|retire|list`` as subprocesses, then the ring the app would load."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bastion import Database
from bastion.security.crypto import SecretBox
from bastion.security.keys import SigningKeyStore
from tests.conftest import TEST_SECRET

pytestmark = [pytest.mark.security, pytest.mark.cli]
ROOT = Path(__file__).resolve().parents[2]
BASTION = Path(sys.executable).parent / "bastion"
NEW_SECRET = "a-new-secret-key-after-rotation-0123456789abcdef"


def bastion(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BASTION), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    return {
        **environment,
        "BASTION_APP": "examples.taskboard.app:app",
        "BASTION_ENV": "test",
        "BASTION_SECRET_KEY": TEST_SECRET,
        "BASTION_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}",
    }


def _created(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    match = re.search(r"^created (EdDSA|HS256) key ([0-9a-f]{32})$", result.stdout, re.M)
    assert match, result.stdout
    return match[2]


def _row(table: str, kid: str) -> list[str]:
    """The cells of the row of ``kid`` in ``bastion keys list``'s table."""
    line = next(line for line in table.splitlines() if kid in line)
    return [cell.strip() for cell in line.strip("│ ").split("│")]


async def test_rotate_list_retire(env: dict[str, str]) -> None:
    assert bastion("db", "upgrade", env=env).returncode == 0
    empty = bastion("keys", "list", env=env)
    assert empty.returncode == 0 and "no signing keys" in empty.stdout

    first = _created(bastion("keys", "rotate", env=env))
    second = _created(bastion("keys", "rotate", "--alg", "HS256", env=env))
    listed = bastion("keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert _row(listed.stdout, first)[1::2] == ["EdDSA", "-"]
    assert _row(listed.stdout, second)[1::2] == ["HS256", "-"]

    retired = bastion("keys", "retire", first, env=env)
    assert retired.returncode == 0 and f"retired key {first}" in retired.stdout
    assert _row(bastion("keys", "list", env=env).stdout, first)[3] != "-"

    unknown = bastion("keys", "retire", "nope", env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "error: No signing key has the id 'nope'."
    bad_alg = bastion("keys", "rotate", "--alg", "RS256", env=env)
    assert bad_alg.returncode == 1 and "--alg must be one of EdDSA, HS256" in bad_alg.stderr

    # After the secret rotates, keys sealed with the old one still load.
    rotated = {
        **env,
        "BASTION_SECRET_KEY": NEW_SECRET,
        "BASTION_SECURITY__PREVIOUS_SECRET_KEYS": TEST_SECRET,
        "BASTION_SECURITY__JWT_ALGORITHM": "HS256",
    }
    third = _created(bastion("keys", "rotate", env=rotated))
    db = Database(env["BASTION_DATABASE_URL"])
    try:
        ring = await SigningKeyStore(db, SecretBox([NEW_SECRET, TEST_SECRET])).load_ring()
        assert ring.kids == [second, third]
        assert [k.alg for k in await SigningKeyStore(db, SecretBox([NEW_SECRET])).list_keys()] == [
            "EdDSA",
            "HS256",
            "HS256",
        ]
    finally:
        await db.dispose()


def test_without_an_app_the_environment_settings_serve(env: dict[str, str]) -> None:
    del env["BASTION_APP"]
    assert bastion("db", "upgrade", env=env).returncode == 0
    _created(bastion("keys", "rotate", env=env))
    assert bastion("keys", "list", env=env).returncode == 0
