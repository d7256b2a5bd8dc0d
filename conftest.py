"""Load the contract's pytest plugin (tests/contract/plugin.py: the --kit-vars option and
the kit, target and supervisor fixtures) for every suite under the kit root: the contract,
its self-test and each layer's own tests (deb/tests, rpm/tests, …)."""

pytest_plugins = ["tests.contract.plugin"]
