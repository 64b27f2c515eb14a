"""tap-gitlab: extract GitLab data as a Singer tap, a Meltano plugin or an Estuary Flow capture."""

__version__ = "0.1.0"
