"""Seeding: named, idempotent fixture loaders, each applied once per database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy import select

from bastion.core.db import Database
from bastion.core.db.upsert import insert_for
from bastion.core.state import Seeder
from bastion.lifecycle.models import SeedRun

log = structlog.get_logger("bastion.lifecycle")


@dataclass(frozen=True)
class SeedResult:
    applied: list[str]
    skipped: list[str]


async def run_seeders(
    db: Database, seeders: Mapping[str, Seeder], *, force: bool = False
) -> SeedResult:
    """Run each seeder not yet recorded, in its own transaction with its record.

    The record is claimed with an insert that skips on conflict, in the same
    transaction as the seeder's rows, so two processes seeding at once apply
    each seeder exactly once and a failed seeder leaves no record.
    ``force`` re-runs recorded seeders (they must then be idempotent themselves).
    """
    applied: list[str] = []
    skipped: list[str] = []
    insert = insert_for(db.dialect)
    for name, seeder in seeders.items():
        async with db.session() as session:
            if force:
                claimed = True
                if await session.get(SeedRun, name) is None:
                    session.add(SeedRun(name=name))
            else:
                statement = (
                    insert(SeedRun)
                    .values(name=name)
                    .on_conflict_do_nothing()
                    .returning(SeedRun.name)
                )
                claimed = (await session.execute(statement)).scalar_one_or_none() is not None
            if claimed:
                await seeder(session)
                applied.append(name)
                log.info("seed.applied", seeder=name)
            else:
                skipped.append(name)
    return SeedResult(applied, skipped)


async def seed_history(db: Database) -> list[SeedRun]:
    async with db.session() as session:
        return list((await session.scalars(select(SeedRun).order_by(SeedRun.applied_at))).all())
