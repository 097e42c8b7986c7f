"""Agent accounts, passwords, login tokens and the login rate limit.

Passwords are hashed with scrypt and a per-user random salt; login tokens are
random (``secrets.token_urlsafe``), handed to the agent once and stored only
as SHA-256 hashes, and expire after ``HANDOFF_TOKEN_TTL_S``. Every request
made with a valid token also marks the agent online (``last_seen_at``).
"""

import functools
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Callable, Deque, Dict, Optional, Tuple

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from actions.db import Database, utc_now
from bot.handoff.models import MAX_DISPLAY_NAME, MAX_USERNAME, AgentRow, AgentTokenRow
from bot.handoff.views import AgentView

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_SCRYPT_KEY_BYTES = 32
_SALT_BYTES = 16
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
"""Longer passwords are refused outright: hashing them would cost for nothing."""
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]*")
_MAX_TRACKED_KEYS = 10000
ONLINE_REFRESH_S = 15
"""``last_seen_at`` is rewritten at most this often per agent."""


class AgentExists(ValueError):
    """An agent with that username already exists."""


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a new random salt.

    Returns:
        ``"scrypt$n$r$p$<salt hex>$<key hex>"``.
    """
    salt = secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=_SCRYPT_KEY_BYTES, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${key.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """Return whether ``password`` matches a hash made by :func:`hash_password`."""
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(key)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(actual, expected)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a login token is stored."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash checked when the username is unknown, so both cases take as long."""
    return hash_password(secrets.token_urlsafe(16))


def normalise_username(username: str) -> str:
    """Return the username as stored (trimmed, lower case)."""
    return username.strip().lower()


class AgentAccounts:
    """Agent accounts and their login tokens in the project database.

    Calls block: from async code run them in a thread pool.

    Args:
        database: The project database.
        token_ttl_s: Lifetime of a login token.
        clock: Source of "now".
    """

    def __init__(
        self, database: Database, *, token_ttl_s: int, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._database = database
        self._token_ttl = timedelta(seconds=token_ttl_s)
        self._clock = clock

    def create_agent(self, username: str, display_name: str, password: str) -> AgentView:
        """Create an agent account.

        Raises:
            ValueError: If the username, display name or password is unfit.
            AgentExists: If the username is taken.
            DatabaseUnavailable: If the database cannot be reached.
        """
        name = normalise_username(username)
        if len(name) > MAX_USERNAME or not USERNAME_PATTERN.fullmatch(name):
            raise ValueError(
                "the username must be 1-64 characters: letters, digits, '.', '_', '@', '-'"
            )
        shown = " ".join(display_name.split())
        if not shown or len(shown) > MAX_DISPLAY_NAME:
            raise ValueError(f"the display name must be 1-{MAX_DISPLAY_NAME} characters")
        if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
            raise ValueError(
                f"the password must be {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters"
            )
        row = AgentRow(
            username=name,
            display_name=shown,
            password_hash=hash_password(password),
            active=True,
            created_at=self._clock(),
        )
        try:
            with self._database.transaction("creating an agent") as session:
                session.add(row)
                session.flush()
                return _view(row)
        except IntegrityError as exc:
            raise AgentExists(f"an agent named {name!r} already exists") from exc

    def login(self, username: str, password: str) -> Optional[Tuple[str, AgentView]]:
        """Check credentials and issue a login token.

        Returns:
            The token (shown once, stored hashed) and the agent; None if the
            username or password is wrong or the account is disabled.
        """
        if len(password) > MAX_PASSWORD_CHARS or len(username) > MAX_USERNAME * 2:
            return None
        name = normalise_username(username)
        now = self._clock()
        with self._database.transaction("logging in") as session:
            row = session.execute(
                select(AgentRow).where(AgentRow.username == name)
            ).scalar_one_or_none()
            matches = verify_password(password, row.password_hash if row else _dummy_hash())
            if row is None or not matches or not row.active:
                return None
            token = secrets.token_urlsafe(32)
            session.add(
                AgentTokenRow(
                    agent_id=row.id,
                    token_hash=hash_token(token),
                    created_at=now,
                    expires_at=now + self._token_ttl,
                )
            )
            row.last_seen_at = now
            return token, _view(row)

    def authenticate(self, token: str) -> Optional[AgentView]:
        """Return the agent a valid token belongs to, marking them online.

        Returns:
            The agent; None if the token is unknown, expired or revoked, or the
            account is disabled.
        """
        if not token or len(token) > 200:
            return None
        now = self._clock()
        statement = (
            select(AgentRow)
            .join(AgentTokenRow, AgentTokenRow.agent_id == AgentRow.id)
            .where(
                AgentTokenRow.token_hash == hash_token(token),
                AgentTokenRow.expires_at > now,
                AgentTokenRow.revoked_at.is_(None),
                AgentRow.active.is_(True),
            )
        )
        with self._database.transaction("checking a login token") as session:
            row = session.execute(statement).scalar_one_or_none()
            if row is None:
                return None
            stale = now - timedelta(seconds=ONLINE_REFRESH_S)
            session.execute(
                update(AgentRow)
                .where(
                    AgentRow.id == row.id,
                    or_(AgentRow.last_seen_at.is_(None), AgentRow.last_seen_at < stale),
                )
                .values(last_seen_at=now)
                .execution_options(synchronize_session=False)
            )
            return _view(row)

    def logout(self, token: str) -> None:
        """Revoke a token; the agent no longer counts as online."""
        now = self._clock()
        with self._database.transaction("logging out") as session:
            row = session.execute(
                select(AgentTokenRow).where(AgentTokenRow.token_hash == hash_token(token))
            ).scalar_one_or_none()
            if row is None or row.revoked_at is not None:
                return
            row.revoked_at = now
            session.execute(
                update(AgentRow)
                .where(AgentRow.id == row.agent_id)
                .values(last_seen_at=None)
                .execution_options(synchronize_session=False)
            )


class LoginLimiter:
    """Refuses logins after too many failures, per address and username.

    A username tried from one address gets ``max_failures`` failures per
    window; one address gets four times that over all usernames (so guessing
    many usernames is limited too, while others can still log in). Kept in
    memory: a restart forgets the failures.

    Args:
        max_failures: Failures allowed per address and username in the window.
        window_s: Length of the sliding window.
        clock: Monotonic seconds.
    """

    def __init__(
        self, max_failures: int, window_s: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = {"user": max_failures, "address": max_failures * 4}
        self._window_s = window_s
        self._clock = clock
        self._failures: Dict[Tuple[str, ...], Deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str, username: str) -> Optional[int]:
        """Return the seconds until a login may be tried again, or None if it may now."""
        now = self._clock()
        waits = []
        with self._lock:
            for key, limit in self._keys(address, username):
                failures = self._recent(key, now)
                if len(failures) >= limit:
                    waits.append(max(1, math.ceil(failures[-limit] + self._window_s - now)))
        return max(waits) if waits else None

    def failed(self, address: str, username: str) -> None:
        """Count a failed login."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > _MAX_TRACKED_KEYS:
                for key in list(self._failures):
                    self._recent(key, now)
            for key, _limit in self._keys(address, username):
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, address: str, username: str) -> None:
        """Forget the failures of this username from this address."""
        with self._lock:
            self._failures.pop(("user", address, normalise_username(username)), None)

    def _keys(self, address: str, username: str) -> Tuple[Tuple[Tuple[str, ...], int], ...]:
        return (
            (("user", address, normalise_username(username)), self._limits["user"]),
            (("address", address), self._limits["address"]),
        )

    def _recent(self, key: Tuple[str, ...], now: float) -> Deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self._window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]  # keep the map from growing with every address seen
        return failures


def _view(row: AgentRow) -> AgentView:
    return AgentView(id=row.id, username=row.username, display_name=row.display_name)
