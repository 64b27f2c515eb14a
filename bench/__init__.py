"""Benchmark of tap-gitlab against its peers on the GitLab simulator: `python -m bench.run --help`."""
