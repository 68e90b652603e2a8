# The two commands of the README, and a few conveniences. Each installs what it needs first.
.PHONY: demo test airflow docs clean

demo:  ## run the retraining DAG end to end on generated data (embedded default)
	./scripts/demo.sh

test:  ## lint and run every test, end-to-end runs through real Airflow included
	./scripts/test.sh

airflow:  ## the Airflow UI on http://localhost:8080 over the demo's metadata DB (make airflow RETRAINER_DEMO_PORT=8081: on 8081)
	./scripts/airflow.sh standalone

docs:  ## build the documentation site into site/ (strict: a broken link or a page missing from the nav fails)
	./scripts/bootstrap.sh
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet

clean:  ## forget the demo's data, registry, DVC cache and Airflow DB (not the installed .venv)
	rm -rf var
