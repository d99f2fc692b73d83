"""What every service needs: a session factory, the vault, the clock, and policy settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from storage.vault import Vault


@dataclass(frozen=True)
class ServiceDeps:
    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    clock: Clock
    invite_ttl: timedelta = timedelta(hours=72)
    default_timezone: str = "Europe/London"
    morning_digest: bool = True
    access_review: bool = True
