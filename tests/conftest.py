"""Shared fixtures: a small simulated GitLab instance and a running simulator serving it."""

from __future__ import annotations

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator

pytest_plugins = ["tests.support.secrets_guard"]
SIM_TOKEN = "glpat-test-token-0123456789"


@pytest.fixture(scope="session")
def gitlab_dataset() -> Dataset:
    """A small dataset (seed 7), shared by the session: tests that mutate data should generate their own."""
    return Dataset.generate(size="small", seed=7)


@pytest.fixture
def gitlab_sim(gitlab_dataset: Dataset):
    """A running simulator on 127.0.0.1 (random port) with token SIM_TOKEN."""
    with GitLabSimulator(gitlab_dataset, token=SIM_TOKEN) as sim:
        yield sim
