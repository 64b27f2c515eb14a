"""Issue 7 ("Faults"): under each fault, a full sync completes with exactly the fault-free records, or stops
with one clear line, a non-zero exit and a final STATE from which a re-run completes with nothing lost.

The scenarios, and what each one checks, are in tests/integration/reliability_report.py; `python -m
tests.integration.reliability_report` runs the same scenarios and publishes the table in README.md.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tap_gitlab.client import MAX_TRANSIENT_ATTEMPTS, GitLabClient
from tap_gitlab.errors import RunStopped
from tap_gitlab.settings import normalize
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.integration import reliability_report as report


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> report.World:
    """The catalog and the fault-free run every scenario is measured against (once per xdist worker)."""
    return report.World(tmp_path_factory.mktemp("faults-world"))


@pytest.mark.slow
@pytest.mark.parametrize("scenario", report.SCENARIOS, ids=[scenario.slug for scenario in report.SCENARIOS])
def test_fault_ends_in_the_fault_free_records_or_a_clean_resumable_stop(
    world: report.World, scenario: report.Scenario, tmp_path: Path
) -> None:
    outcome = report.run_scenario(world, scenario, tmp_path)
    assert outcome.problems == [], f"{scenario.label} ({outcome.outcome}): " + "; ".join(outcome.problems)
    assert outcome.outcome.startswith("completed" if scenario.expect == "completed" else "stopped, resumed")


def test_readme_fault_table_lists_every_scenario_as_passing() -> None:
    readme = report.README.read_text(encoding="utf-8")
    assert report.START in readme and report.END in readme, "README.md has no faults table block"
    block = readme[readme.index(report.START) : readme.index(report.END)]
    rows = {
        cells[1].strip(): line
        for line in block.splitlines()
        if line.startswith("| ") and len(cells := line.split("|")) > 3
    }
    missing = [scenario.label for scenario in report.SCENARIOS if scenario.label not in rows]
    assert not missing, f"run `python -m tests.integration.reliability_report`: README.md lacks {missing}"
    failing = [
        scenario.label
        for scenario in report.SCENARIOS
        if "❌" in rows[scenario.label] or "✅" not in rows[scenario.label]
    ]
    assert not failing, f"README.md publishes failing fault scenarios: {failing}"


def test_closing_the_client_stops_retries_running_in_other_workers() -> None:
    """A stopping run closes its client: a worker waiting to retry gives up at once instead of retrying on
    (for a minute in an outage), which kept the process alive and logged retries after the error line."""
    dataset = Dataset.generate(size="tiny", seed=report.SEED)
    with GitLabSimulator(dataset, token=report.TOKEN) as sim:
        sim.faults.add("503", path=r"^/api/v4/user$")
        client = GitLabClient(normalize({"api_url": sim.base_url, "private_token": report.TOKEN}))
        raised: list[BaseException] = []

        def worker() -> None:
            try:
                client.get_object("/user")
            except BaseException as exc:
                raised.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        while not sim.requests:  # the first attempt has been answered: the worker is backing off
            time.sleep(0.01)
        client.close()
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert [type(exc) for exc in raised] == [RunStopped]
        assert len(sim.requests) < MAX_TRANSIENT_ATTEMPTS
        with pytest.raises(RunStopped):
            client.get_object("/user")  # nothing more is sent
        assert len(sim.requests) < MAX_TRANSIENT_ATTEMPTS
