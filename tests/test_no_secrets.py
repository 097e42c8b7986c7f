"""No secret is committed: every tracked file is scanned for credentials.

Secrets belong in the environment (``credentials.yml`` and the deploy
templates hold ``${VARIABLE}`` references). The scan looks for the shapes of
real credentials (private keys, Slack, AWS, Google, GitHub, Telegram, Meta and
Twilio tokens), for secret-looking settings with literal values in
configuration files, and for passwords inside URLs. The fake values the tests
use are listed in :data:`PLACEHOLDERS`, each with where it comes from.
"""

import re
import subprocess
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 2_000_000
# Folders never committed (see .gitignore), skipped when git is not available.
UNTRACKED = {".git", ".venv", "node_modules", "models", ".data", "logs", "reports", "results"}

PLACEHOLDERS = {
    # Twilio's auth token in tests/bot/channels: a counting sequence, not a token.
    "12345678901234567890123456789012",
    # The Messenger app secret in tests/bot/channels: the MD5 of the empty string.
    "d41d8cd98f00b204e9800998ecf8427e",
    # RabbitMQ's documented default password (bot/prod/settings.py).
    "guest",
    # The word itself, in examples such as postgresql://user:password@host/db.
    "password",
}
# Values filled in elsewhere: ${VAR}, {name}, %(name)s, <name>.
TEMPLATE = re.compile(r"^(?:\$?\{[^}]*\}|%\([^)]*\)s|<[^>]*>)$")

PATTERNS: List[Tuple[str, "re.Pattern[str]"]] = [
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("Slack token", re.compile(r"\bxox[abposr]-\d{8,}-\d{8,}(?:-\d{8,})?-[A-Za-z0-9]{20,}")),
    (
        "Slack webhook",
        re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,}"),
    ),
    ("AWS access key", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])")),
    (
        "AWS secret key",
        re.compile(r"(?i)aws_?secret_?access_?key\W{0,4}[:=]\s*[\"']?([A-Za-z0-9/+]{40})\b"),
    ),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("Telegram bot token", re.compile(r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b")),
    ("Meta access token", re.compile(r"\bEAA[A-Za-z0-9]{90,}")),
    ("Twilio API key", re.compile(r"\bSK[0-9a-f]{32}\b")),
    (
        "Twilio auth token",
        re.compile(r"(?i)(?:auth|twilio)_?token\W{0,4}[:=]\s*[\"']?([0-9a-f]{32})\b"),
    ),
    (
        "app secret",
        re.compile(r"(?i)(?:app|signing|client)_?secret\W{0,4}[:=]\s*[\"']?([0-9a-f]{32,})\b"),
    ),
    ("password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s/'\"]{8,})@")),
]
CONFIG_SUFFIXES = {".yml", ".yaml", ".toml", ".ini", ".cfg", ".conf", ".env", ".template"}
SECRET_SETTING = re.compile(
    r"^\s*[\"']?[\w.-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key)[\w.-]*[\"']?"
    r"\s*[:=]\s*(?P<value>[^#\s][^#]*?)\s*(?:#.*)?$",
    re.IGNORECASE,
)
REFERENCE = re.compile(r"^[\"']?\$\{[A-Z0-9_]+(?::-[^}]*)?\}[\"']?$")


def tracked_files() -> List[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in ROOT.rglob("*")
            if path.is_file() and not UNTRACKED & set(path.relative_to(ROOT).parts)
        ]
    return [ROOT / name for name in listed.decode("utf-8").split("\0") if name]


def text_of(path: Path) -> str:
    if not path.is_file() or path.stat().st_size > MAX_BYTES:
        return ""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return ""  # binary
    return data.decode("utf-8", errors="replace")


def findings(name: str, text: str) -> Iterator[str]:
    """Every suspected secret in one file's text, as "file:line: kind"."""
    config = Path(name).suffix in CONFIG_SUFFIXES or Path(name).name.startswith(".env")
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in PATTERNS:
            for match in pattern.finditer(line):
                value = match.group(match.lastindex or 0)
                if value not in PLACEHOLDERS and not TEMPLATE.match(value):
                    yield f"{name}:{number}: {kind}"
        setting = SECRET_SETTING.match(line) if config else None
        if setting:
            value = setting.group("value")
            if not REFERENCE.match(value) and value.strip("\"'") not in PLACEHOLDERS:
                yield f"{name}:{number}: literal value for a secret setting"


def test_no_tracked_file_holds_a_secret() -> None:
    files = tracked_files()
    assert len(files) > 100  # the scan really ran over the repository
    found = [
        finding
        for path in files
        for finding in findings(str(path.relative_to(ROOT)), text_of(path))
    ]
    assert found == []


def test_no_environment_file_or_key_file_is_tracked() -> None:
    names = [path.name for path in tracked_files()]
    assert [n for n in names if n == ".env" or (n.startswith(".env.") and "example" not in n)] == []
    assert [n for n in names if n.endswith((".pem", ".key", ".p12", ".pfx", "id_rsa"))] == []


@pytest.mark.parametrize(
    "name, text, kind",
    [
        ("a.py", "-----BEGIN " + "RSA PRIVATE KEY-----", "private key"),
        ("a.py", "-----BEGIN " + "OPENSSH PRIVATE KEY-----", "private key"),
        ("a.py", "x = 'xoxb-" + "1234567890-1234567890-" + "a" * 24 + "'", "Slack token"),
        ("a.md", "AKIA" + "IOSFODNN7EXAMPLE", "AWS access key"),
        ("a.py", "TWILIO_AUTH_TOKEN = '" + "0123456789abcdef" * 2 + "'", "Twilio auth token"),
        ("a.py", "bot = '123456789:AA" + "b" * 33 + "'", "Telegram bot token"),
        ("a.py", "url = 'postgresql://rasa:" + "s3cretPassw0rd" + "@db/rasa'", "password in a URL"),
        ("endpoints.yml", "  password: " + "hunter2hunter2", "literal value for a secret setting"),
        ("deploy/x.env", "API_KEY=" + "abc123def456", "literal value for a secret setting"),
    ],
)
def test_the_scan_finds_planted_secrets(name: str, text: str, kind: str) -> None:
    assert list(findings(name, text)) == [f"{name}:1: {kind}"]


@pytest.mark.parametrize(
    "name, text",
    [
        ("credentials.yml", "  auth_token: ${TWILIO_AUTH_TOKEN}   # from the console"),
        ("endpoints.yml", "  password: ${REDIS_PASSWORD}"),
        ("endpoints.yml", "  password:"),
        ("a.py", "SLACK_BOT_TOKEN = 'xoxb-1111-2222-test'"),
        ("a.py", "'postgresql://postgres@127.0.0.1:5432/test'"),
        ("a.py", "AUTH_TOKEN = '12345678901234567890123456789012'"),
        ("a.py", "f'amqp://{username}:{password}@{host}:5672'"),
        ("a.md", "postgresql://user:password@host:5432/assistant"),
    ],
)
def test_references_and_documented_placeholders_pass(name: str, text: str) -> None:
    assert list(findings(name, text)) == []
