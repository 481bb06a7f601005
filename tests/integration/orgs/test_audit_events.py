"""Security events land in the audit log by themselves; an org reads its own."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from bastion.cli.main import app as cli
from bastion.security.audit import AuditEvent, audit_log

pytestmark = [pytest.mark.security, pytest.mark.db]


async def _actions(orgs, chain: str = "system") -> list[str]:
    async with orgs.app.state.bastion.db.session() as session:
        rows = await session.scalars(
            select(AuditEvent.action).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
        )
        return list(rows.all())


async def test_auth_events_are_recorded_on_the_system_chain(sqlite_orgs):
    orgs = sqlite_orgs
    ada = await orgs.user("ada@example.com")
    body = {"email": "ada@example.com", "password": "wrong password here"}
    for _ in range(5):
        await orgs.http.post("/auth/login", json=body)
    key = await orgs.http.post("/auth/api-keys", json={"name": "k", "scopes": []}, headers=ada)
    await orgs.http.delete(f"/auth/api-keys/{key.json()['id']}", headers=ada)
    await orgs.http.post("/auth/logout", headers=ada)

    actions = await _actions(orgs)
    assert actions[0] == "auth.login"
    assert actions.count("auth.login_failed") == 5
    assert "auth.locked_out" in actions
    assert actions[-3:] == ["auth.api_key_created", "auth.api_key_revoked", "auth.session_revoked"]
    assert await audit_log(orgs.app).verify("system") is None


async def test_org_reads_its_own_events_with_filters_and_pages(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    bob = await orgs.member(org, ada, "bob@example.com", "member")
    bob_id = await orgs.user_id(bob)
    await orgs.http.patch(f"/orgs/{org}/members/{bob_id}", json={"role": "admin"}, headers=ada)
    other = await orgs.org(bob, "Bob's")

    url = f"/orgs/{org}/audit-events"
    everything = (await orgs.http.get(url, headers=ada)).json()["items"]
    assert [e["action"] for e in everything] == [
        "org.created",
        "org.invitation_created",
        "org.invitation_accepted",
        "org.role_changed",
    ]
    assert everything[-1]["data"] == {"role": "admin", "was": "member"}
    assert everything[0]["prev_hash"] == "0" * 64
    assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(everything))

    by_actor = await orgs.http.get(url, params={"actor": f"user:{bob_id}"}, headers=ada)
    assert [e["action"] for e in by_actor.json()["items"]] == ["org.invitation_accepted"]
    by_action = await orgs.http.get(url, params={"action": "org.role_changed"}, headers=ada)
    assert len(by_action.json()["items"]) == 1
    later = await orgs.http.get(url, params={"since": "2027-01-01T00:00:00Z"}, headers=ada)
    assert later.json()["items"] == []

    first = (await orgs.http.get(url, params={"limit": 3}, headers=ada)).json()
    rest = await orgs.http.get(
        url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=ada
    )
    assert [e["id"] for e in first["items"] + rest.json()["items"]] == [e["id"] for e in everything]

    # Bob, now an admin here, reads this org's log but not another's chain through it.
    theirs = (await orgs.http.get(f"/orgs/{other}/audit-events", headers=bob)).json()["items"]
    assert [e["action"] for e in theirs] == ["org.created"]
    member = await orgs.member(org, ada, "mem@example.com", "member")
    assert (await orgs.http.get(url, headers=member)).status_code == 403


async def test_cli_verify_names_the_broken_event(sqlite_orgs, sqlite_url, monkeypatch):
    orgs = sqlite_orgs
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    await orgs.http.patch(f"/orgs/{org}", json={"name": "Renamed"}, headers=ada)
    monkeypatch.setenv("BASTION_DATABASE_URL", sqlite_url)
    runner = CliRunner()

    ok = await asyncio.to_thread(runner.invoke, cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "2 chain(s) verified" in ok.output

    async with orgs.app.state.bastion.db.session() as session:
        victim = await session.scalar(select(AuditEvent).where(AuditEvent.action == "org.created"))
        await session.execute(
            update(AuditEvent).where(AuditEvent.id == victim.id).values(actor="user:someone")
        )
    broken = await asyncio.to_thread(runner.invoke, cli, ["audit", "verify", "--org", org])
    assert broken.exit_code == 1
    assert str(victim.id) in broken.output and "seq 1" in broken.output
    bad = await asyncio.to_thread(runner.invoke, cli, ["audit", "verify", "--org", "nope"])
    assert bad.exit_code == 1


async def test_log_sink_writes_each_event(client_for, sqlite_url, clock):
    from structlog.testing import capture_logs

    from tests.integration.orgs.conftest import build_orgs

    orgs = await build_orgs(client_for, sqlite_url, clock, audit={"log_sink": True})
    ada = await orgs.user("ada@example.com")
    with capture_logs() as logs:
        org = await orgs.org(ada)
    [line] = [entry for entry in logs if entry["event"] == "audit.event"]
    assert line["action"] == "org.created" and line["org_id"] == org and line["seq"] == 1


def test_permissions_list_shows_the_apps_permissions_and_their_roles():
    result = CliRunner().invoke(
        cli, ["--app", "examples.taskboard.app:app", "permissions", "list"], env={}
    )
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "owner, admin, member" in rows["project:write"]
    assert "viewer" not in rows["project:write"]
    assert "owner, admin, member, viewer" in rows["task:read"]
    assert "owner, admin" in rows["audit:read"] and "member" not in rows["audit:read"]
