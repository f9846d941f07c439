# daily-papers-warehouse — everyday verbs. `make run` and `make test` each set up .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PAPERS_HOME ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(PAPERS_HOME)/dagster
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false
export DO_NOT_TRACK := 1

.PHONY: setup init run test check ui dashboard docs manifest sample clean eval-topics train-topics

$(BIN)/papers: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[dev]"
	touch $(BIN)/papers

setup: $(BIN)/papers ## create .venv and install the project

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml $(BIN)/papers
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster instance migrate >/dev/null

SAMPLE := sample/daily_papers_2025-10

sample: ## copy the bundled real sample (October 2025, sample/README.md) into $(PAPERS_HOME)/landing
	mkdir -p $(PAPERS_HOME)/landing
	cp $(SAMPLE)/*.json $(PAPERS_HOME)/landing/

run: setup $(DAGSTER_HOME)/dagster.yaml sample ## the main job on the bundled sample data
	$(BIN)/papers run

test: setup ## the test suite (offline): what CI runs
	$(BIN)/python -m pytest -q

check: setup ## the inner loop: unit and fast integration tests (no dbt build, no dagster dev, no browser)
	$(BIN)/python -m pytest -q -m "not slow and not dagster_dev and not browser and not pipeline"

init: setup ## create $(PAPERS_HOME) and its folders (landing/ and the rest)
	$(BIN)/papers init

ui: init $(DAGSTER_HOME)/dagster.yaml ## the Dagster UI (sensor + schedule running) on 127.0.0.1:3000
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

DASHBOARD_PORT ?= 8501
dashboard: setup ## the analysts' dashboard (Streamlit) on 127.0.0.1:$(DASHBOARD_PORT), reading $(PAPERS_HOME)/published only
	$(BIN)/streamlit run dashboard/app.py --server.address 127.0.0.1 --server.port $(DASHBOARD_PORT) \
		--server.headless true --browser.gatherUsageStats false --global.developmentMode false --client.toolbarMode viewer

manifest: setup ## dbt parse (target/manifest.json)
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir .

docs: setup ## dbt docs as one self-contained page a browser opens from file:// (dbt_project/target/static_index.html)
	cd dbt_project && PAPERS_WAREHOUSE=$(PAPERS_HOME)/warehouse.duckdb ../$(BIN)/dbt docs generate --static --profiles-dir .
	@echo "open file://$(CURDIR)/dbt_project/target/static_index.html"

eval-topics: setup ## topic quality vs the expert labels (train and holdout splits): agreement, precision, recall, misses
	env -u DAGSTER_HOME $(BIN)/python -m topics.evaluate

train-topics: setup ## refit the topic term weights on the train split (writes dbt_project/seeds/topic_taxonomy.csv, topics.csv)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[topics]"
	env -u DAGSTER_HOME $(BIN)/python -m topics.train

clean: ## remove the local warehouse and run state (keeps .venv)
	rm -rf $(PAPERS_HOME) dbt_project/target dbt_project/logs

RECORDS ?= 1000000
.PHONY: bench
bench: setup ## benchmark vs DuckDB reading the same files: make bench RECORDS=100000
	$(BIN)/python -m bench.run --records $(RECORDS) $(BENCH_ARGS)
