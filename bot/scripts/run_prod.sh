#!/usr/bin/env bash
# Starts production mode: two Rasa instances and two action servers behind nginx,
# the handoff service (one instance), over PostgreSQL, Redis and RabbitMQ; see
# docs/deployment.md. Connection settings come from the environment (defaults:
# the local services). Called by `make run-prod`; stops everything on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=.venv/bin
export ASSISTANT_DATABASE_URL="${ASSISTANT_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/assistant}"
PROD_RUN_DIR="${PROD_RUN_DIR:-.data/prod}"
mkdir -p "$PROD_RUN_DIR"

# Rasa's HTTP API always requires a token in production mode. Without
# RASA_AUTH_TOKEN one is generated once and kept (readable by this user only).
if [[ -z "${RASA_AUTH_TOKEN:-}" ]]; then
  token_file="$PROD_RUN_DIR/rasa-auth-token"
  if [[ ! -s "$token_file" ]]; then
    (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$token_file")
    echo "Generated RASA_AUTH_TOKEN in $token_file"
  fi
  RASA_AUTH_TOKEN="$(cat "$token_file")"
  export RASA_AUTH_TOKEN
fi

# Stores reachable, databases created, nginx and a model there.
"$BIN/python" -m bot.prod check
# Migrate and seed the project database, and embed the catalogue (no-ops when done).
"$BIN/python" -m actions.db seed
"$BIN/python" -m actions.recommender embed

exec "$BIN/python" -m bot.prod run
