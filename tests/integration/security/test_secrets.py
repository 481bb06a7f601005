"""Secret providers: environment, files, and the sealed ring that rotates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion import Database
from bastion.lifecycle import migrations
from bastion.security import EnvSecrets, FileSecrets, SecretBox, SecretRing
from bastion.security.errors import SecretNotFound
from bastion.security.keys import SigningKeyStore
from bastion.security.models import StoredSecret

pytestmark = pytest.mark.security

OLD = "the-previous-master-key-of-this-test-0123456789"
NEW = "the-current-master-key-of-this-test-0123456789"


@pytest.fixture
async def db(database_url: str):
    database = Database(database_url)
    await migrations.upgrade(database)
    yield database
    await database.dispose()


async def test_environment_and_files(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_WEBHOOK_SECRET", "from-env")
    assert await EnvSecrets("APP_").get("webhook-secret") == "from-env"
    (tmp_path / "webhook").write_text("from-file\n")
    assert await FileSecrets(tmp_path).get("webhook") == "from-file"
    with pytest.raises(SecretNotFound, match="APP_MISSING"):
        await EnvSecrets("APP_").get("missing")
    with pytest.raises(SecretNotFound):
        await FileSecrets(tmp_path).get("missing")
    with pytest.raises(ValueError, match="not a secret name"):
        await FileSecrets(tmp_path).get("../etc/passwd")


async def test_ring_rotates_keeps_live_versions_and_reseals(db):
    ring = SecretRing(db, SecretBox([OLD]))
    with pytest.raises(SecretNotFound):
        await ring.get("webhook")
    assert await ring.rotate("webhook", "first") == 1
    assert await ring.rotate("webhook") == 2
    second = await ring.get("webhook")
    assert second != "first" and len(second) >= 40
    assert await ring.values("webhook") == [second, "first"]
    assert await ring.retire("webhook", 1) and not await ring.retire("webhook", 1)
    assert await ring.values("webhook") == [second]
    async with db.session() as session:
        stored = (await session.scalars(select(StoredSecret.sealed))).all()
    assert all(second not in sealed and sealed.startswith("v1.") for sealed in stored)

    # A new master key: `bastion keys rotate` re-seals, then the old key can go.
    both = SecretBox([NEW, OLD])
    await SigningKeyStore(db, both).rotate("HS256")
    assert await SecretRing(db, SecretBox([NEW])).get("webhook") == second
