#!/usr/bin/env bash
# Starts the embedded default: the action server, one Rasa server (REST and
# socket.io channels, HTTP API for the handoff service) on the newest model in
# models/, and the handoff service with the agent console, all on SQLite files
# in .data/. Stops them on Ctrl-C. Called by `make run` after `make train`.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=.venv/bin
RASA_PORT="${RASA_PORT:-5005}"
ACTIONS_PORT="${ACTIONS_PORT:-5055}"
export HANDOFF_PORT="${HANDOFF_PORT:-5077}"
export WEB_PORT="${WEB_PORT:-8080}"
export WEB_RASA_URL="${WEB_RASA_URL:-http://localhost:$RASA_PORT}"
export HANDOFF_RASA_URL="${HANDOFF_RASA_URL:-http://localhost:$RASA_PORT}"
# With RASA_AUTH_TOKEN set, Rasa's HTTP API requires it and the handoff service sends it.
rasa_auth=()
if [[ -n "${RASA_AUTH_TOKEN:-}" ]]; then
  rasa_auth=(--auth-token "$RASA_AUTH_TOKEN")
  export HANDOFF_RASA_TOKEN="$RASA_AUTH_TOKEN"
fi
mkdir -p .data logs
# REST and socket.io, plus each messaging platform whose variables are set
# (docs/channels/); the file holds ${VAR} references, never the secrets.
"$BIN/python" -m bot.channels.credentials --out .data/credentials.yml

if ! ls models/*.tar.gz >/dev/null 2>&1; then
  echo "No trained model in models/: run 'make train' first." >&2
  exit 1
fi

"$BIN/python" -m actions.db seed
# Vectors for the recommender, stored with the products (a no-op when present).
"$BIN/python" -m actions.recommender embed

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# wait_for URL PID LOG SECONDS: until URL answers; fails if PID exits first.
wait_for() {
  local url=$1 pid=$2 log=$3 seconds=$4
  for _ in $(seq 1 "$seconds"); do
    if curl -fsS "$url" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "A server failed to start; see $log:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    sleep 1
  done
  echo "$url did not answer within $seconds s; see $log." >&2
  exit 1
}

"$BIN/rasa" run actions --actions actions --port "$ACTIONS_PORT" >logs/actions.log 2>&1 &
pids+=($!)

wait_for "http://localhost:$ACTIONS_PORT/health" "${pids[0]}" logs/actions.log 60

"$BIN/python" -m bot.handoff serve --port "$HANDOFF_PORT" >logs/handoff.log 2>&1 &
pids+=($!)

wait_for "http://localhost:$HANDOFF_PORT/health" "${pids[1]}" logs/handoff.log 60

"$BIN/rasa" run --model models --credentials .data/credentials.yml --endpoints endpoints.yml \
  --port "$RASA_PORT" --cors "*" --enable-api "${rasa_auth[@]}" >logs/rasa.log 2>&1 &
pids+=($!)

echo "Loading the model (about a minute)..."
wait_for "http://localhost:$RASA_PORT/" "${pids[2]}" logs/rasa.log 180

"$BIN/python" -m bot.web serve --port "$WEB_PORT" >logs/web.log 2>&1 &
pids+=($!)
wait_for "http://localhost:$WEB_PORT/health" "${pids[3]}" logs/web.log 60

cat <<MSG

The assistant is running. Talk to it:
  REST:       curl -s -XPOST http://localhost:$RASA_PORT/webhooks/rest/webhook \\
                -H 'Content-Type: application/json' \\
                -d '{"sender": "me", "message": "where is my order ORD-104233?"}'
  socket.io:  http://localhost:$RASA_PORT (path /socket.io, events user_uttered / bot_uttered)
  Actions:    http://localhost:$ACTIONS_PORT/health
Web chat:      http://localhost:$WEB_PORT/  (embed it in a site: README, "Web chat widget")
Agent console: http://localhost:$HANDOFF_PORT/  (create an account first:
  .venv/bin/python -m bot.handoff create-agent alice --display-name Alice)
Logs are in logs/ (rasa, actions, handoff, web). Press Ctrl-C to stop.
MSG

wait -n "${pids[@]}"
echo "A server stopped; see logs/. Shutting down." >&2
