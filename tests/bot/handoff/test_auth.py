import os
import subprocess
import sys
from pathlib import Path

import pytest

from actions.db import Database
from bot.handoff.auth import (
    AgentAccounts,
    AgentExists,
    LoginLimiter,
    hash_password,
    hash_token,
    verify_password,
)
from bot.handoff.models import AgentRow, AgentTokenRow
from bot.handoff.store import HandoffStore
from tests.bot.handoff.support import PASSWORD, SETTINGS, Clock

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("hunter22"), hash_password("hunter22")

    assert first != second  # a new salt each time
    assert first.startswith("scrypt$16384$8$1$") and len(first.split("$")) == 6
    assert verify_password("hunter22", first) and verify_password("hunter22", second)
    assert not verify_password("hunter23", first)
    assert not verify_password("hunter22", "md5$abc")
    assert not verify_password("hunter22", "garbage")


def test_create_login_authenticate_and_logout(
    accounts: AgentAccounts, clock: Clock, any_database: Database
) -> None:
    created = accounts.create_agent("  Dana.S@Shop ", "  Dana   S ", PASSWORD)
    assert (created.username, created.display_name) == ("dana.s@shop", "Dana S")

    assert accounts.login("dana.s@shop", "wrong password") is None
    assert accounts.login("nobody", PASSWORD) is None
    result = accounts.login("DANA.S@SHOP", PASSWORD)
    assert result is not None
    token, agent = result
    assert agent == created
    assert accounts.authenticate(token) == created
    assert accounts.authenticate("forged") is None
    assert accounts.authenticate("") is None

    with any_database.session() as session:
        stored = session.query(AgentTokenRow).one()
        assert stored.token_hash == hash_token(token) and token not in stored.token_hash
        assert session.query(AgentRow).one().password_hash.startswith("scrypt$")

    accounts.logout(token)
    assert accounts.authenticate(token) is None


def test_tokens_expire(accounts: AgentAccounts, clock: Clock) -> None:
    accounts.create_agent("dana", "Dana", PASSWORD)
    token, _ = accounts.login("dana", PASSWORD) or ("", None)

    clock.advance(SETTINGS.token_ttl_s - 1)
    assert accounts.authenticate(token) is not None
    clock.advance(1)
    assert accounts.authenticate(token) is None


def test_authenticated_agents_are_online_for_a_minute(
    accounts: AgentAccounts, clock: Clock, any_database: Database
) -> None:
    store = HandoffStore(any_database, settings=SETTINGS, clock=clock)
    accounts.create_agent("dana", "Dana", PASSWORD)
    token, _ = accounts.login("dana", PASSWORD) or ("", None)
    assert store.agents_online() == 1

    clock.advance(50)
    accounts.authenticate(token)  # a heartbeat
    clock.advance(50)
    assert store.agents_online() == 1
    clock.advance(11)
    assert store.agents_online() == 0

    accounts.authenticate(token)
    assert store.agents_online() == 1
    accounts.logout(token)
    assert store.agents_online() == 0


@pytest.mark.parametrize(
    "username, display_name, password, message",
    [
        ("", "Dana", PASSWORD, "the username must be"),
        ("dana smith", "Dana", PASSWORD, "the username must be"),
        ("<script>", "Dana", PASSWORD, "the username must be"),
        ("d" * 65, "Dana", PASSWORD, "the username must be"),
        ("dana", "   ", PASSWORD, "the display name must be"),
        ("dana", "D" * 101, PASSWORD, "the display name must be"),
        ("dana", "Dana", "short", "the password must be 8-1024 characters"),
    ],
)
def test_unfit_accounts_are_refused(
    accounts: AgentAccounts, username: str, display_name: str, password: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        accounts.create_agent(username, display_name, password)


def test_usernames_are_unique(accounts: AgentAccounts) -> None:
    accounts.create_agent("dana", "Dana", PASSWORD)

    with pytest.raises(AgentExists, match="an agent named 'dana' already exists"):
        accounts.create_agent("DANA", "Other Dana", PASSWORD)


def test_the_login_limiter() -> None:
    now = [0.0]
    limiter = LoginLimiter(max_failures=2, window_s=60, clock=lambda: now[0])

    limiter.failed("1.2.3.4", "dana")
    assert limiter.retry_after("1.2.3.4", "dana") is None
    now[0] = 10.0
    limiter.failed("1.2.3.4", "Dana")
    assert limiter.retry_after("1.2.3.4", "dana") == 50  # the first failure leaves the window at 60
    assert limiter.retry_after("5.6.7.8", "dana") is None
    assert limiter.retry_after("1.2.3.4", "bob") is None
    now[0] = 60.5
    assert limiter.retry_after("1.2.3.4", "dana") is None
    limiter.failed("1.2.3.4", "dana")
    limiter.succeeded("1.2.3.4", "dana")
    assert limiter.retry_after("1.2.3.4", "dana") is None

    # One address guessing many usernames: four times the limit over all of them.
    for index in range(8):
        limiter.failed("9.9.9.9", f"user{index}")
    assert limiter.retry_after("9.9.9.9", "someone-else") == 60


def test_the_create_agent_command(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "ASSISTANT_SEED_SAMPLE_DATA": "false",
        "HANDOFF_AGENT_PASSWORD": PASSWORD,
    }
    command = [
        sys.executable,
        "-m",
        "bot.handoff",
        "create-agent",
        "Dana",
        "--display-name",
        "Dana S",
    ]

    first = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    second = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)

    assert (first.returncode, first.stdout) == (0, "Created agent 'dana' (Dana S), id 1.\n")
    assert second.returncode == 2
    assert second.stderr.strip().endswith("error: an agent named 'dana' already exists")
