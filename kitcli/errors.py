"""One error type for everything the user can fix: what is wrong, and the fix."""

from __future__ import annotations


class KitError(Exception):
    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem} — fix: {fix}")
        self.problem = problem
        self.fix = fix
