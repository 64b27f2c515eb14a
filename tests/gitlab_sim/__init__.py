"""A GitLab REST API v4 simulator for tests and benchmarks (see tests/gitlab_sim/README in the docstrings).

from tests.gitlab_sim import Dataset, GitLabSimulator
ds = Dataset.generate(size="small", seed=7)
with GitLabSimulator(ds, token="T") as sim:
    sim.base_url  # http://127.0.0.1:PORT
"""

from tests.gitlab_sim.dataset import Dataset

__all__ = ["Dataset", "GitLabSimulator"]


def __getattr__(name: str):  # the server module imports lazily so the dataset can be used alone
    if name == "GitLabSimulator":
        from tests.gitlab_sim.server import GitLabSimulator

        return GitLabSimulator
    raise AttributeError(name)
