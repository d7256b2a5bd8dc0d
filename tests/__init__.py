"""The kit's own tests: the shared contract (tests/contract, a pytest plugin), its
self-test (tests/selftest), the CLI's tests (tests/kit) and the adopt proof (tests/adopt)."""
