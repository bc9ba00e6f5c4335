# Every target creates the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8090
# Test workers (pytest-xdist): the tests mostly wait on servers and bots, so three share two cores
# well (about 3 min 40 s on two cores, against 5 min with two workers); TEST_WORKERS=0 runs them
# all in one process.
TEST_WORKERS ?= 3

.PHONY: test test-repeat lint format install demo customer chat-sdk-customer emulator bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The build leaves an .egg-info in the source root; removed because anything started from this
# folder (errbot, the tests) would take it for the installed distribution.
install: $(BIN)/python
	$(BIN)/python -m pip install --quiet '.[test]'
	rm -rf errbot_pubnub_support.egg-info

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The whole suite RUNS times in a row (20 unless set), stopping at the first red run: a test
# that fails one run in ten shows here before it fails someone's change. Each run's output is
# kept in .test-runs/.
RUNS ?= 20
test-repeat: install
	@mkdir -p .test-runs
	@for run in $$(seq 1 $(RUNS)); do \
		start=$$(date +%s); \
		if $(BIN)/python -m pytest -n $(TEST_WORKERS) -q -p no:cacheprovider \
			> .test-runs/run-$$run.log 2>&1; then \
			echo "run $$run of $(RUNS): green in $$(( $$(date +%s) - start )) s ($$(tail -n 1 .test-runs/run-$$run.log))"; \
		else \
			echo "run $$run of $(RUNS): RED, see .test-runs/run-$$run.log"; \
			grep -E '^(FAILED|ERROR)' .test-runs/run-$$run.log; exit 1; \
		fi; \
	done; echo "$(RUNS) runs in a row green"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/python
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

emulator: install
	$(BIN)/python -m errbot_pubnub.emulator --host 127.0.0.1 --port $(PORT)

# Relay throughput against the PubNub SDK's ceiling, latency, catch-up, memory, and several
# instances on one PostgreSQL database (a few minutes; not part of `make test`). The last line
# printed is the whole report as JSON.
bench: install
	$(BIN)/python -m benchmarks

# The bot with agents in this terminal and customers on the local PubNub server (or on PubNub
# itself when PUBNUB_PUBLISH_KEY is set), and the customer chat page on PORT + 1; Ctrl-C stops
# all of it.
demo: install
	$(BIN)/errbot-support-demo run --port $(PORT)

# A customer for the demo, in a second terminal (make customer NAME=dana to choose the name).
customer: $(BIN)/errbot-support-demo
	$(BIN)/errbot-support-demo customer --port $(PORT) $(if $(NAME),--name $(NAME)) \
		$(if $(FULLNAME),--pubnub-display-name "$(FULLNAME)") \
		$(if $(EMAIL),--pubnub-email "$(EMAIL)")

# A customer app made with PubNub's Chat SDK (Node), for a demo run with
# PUBNUB_MESSAGE_CONVERTER=errbot_pubnub.ChatSDKMessageConverter make demo.
# It opens its session with the running demo's customer session service.
chat-sdk-customer: js/node_modules/.package-lock.json $(BIN)/errbot-support-demo
	$(BIN)/errbot-support-demo chat-sdk-customer --port $(PORT) \
		$(if $(NAME),--user-id $(NAME)) $(if $(FULLNAME),--name "$(FULLNAME)") \
		$(if $(EMAIL),--email "$(EMAIL)")

# PubNub's JavaScript SDKs, at the versions js/package-lock.json pins.
js/node_modules/.package-lock.json: js/package-lock.json
	cd js && npm ci --no-audit --no-fund

# Installs only when missing: a reinstall under the running demo would swap its files.
$(BIN)/errbot-support-demo: | $(BIN)/python
	$(MAKE) --no-print-directory install

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
