"""Robustness suite fixtures: the real-plan retriever (shared), and the counted summary table."""

from __future__ import annotations

import pytest

from tests.robustness import tally


def pytest_terminal_summary(terminalreporter):
    """Print and save the tried/handled/failures table after the run."""
    path = tally.write()
    if path is not None:
        terminalreporter.write_sep("=", "robustness summary")
        terminalreporter.write(tally.table())
        terminalreporter.write_line(f"(saved to {path})")


@pytest.fixture(scope="session")
def bad():
    """All generated bad questions, ``[(category, text)]``."""
    from tests.robustness.inputs import bad_inputs

    return bad_inputs()
