# Every target creates the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8090

.PHONY: test lint format install demo customer emulator bench clean

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
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/python
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

emulator: install
	$(BIN)/python -m errbot_pubnub.emulator --host 127.0.0.1 --port $(PORT)

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
