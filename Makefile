# Every target creates the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8090

.PHONY: test lint format install demo customer emulator bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet '.[test]'

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/python
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

emulator: install
	$(BIN)/python -m errbot_pubnub.emulator --host 127.0.0.1 --port $(PORT)

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
