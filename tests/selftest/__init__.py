"""The contract's self-test: break a passing target on purpose; the contract must fail."""
