"""Run singer-io's tap-gitlab 1.0.1 against another base URL (it hard-codes gitlab.com's API).

Usage, with the peer's own interpreter: `bench/.venvs/singer-io/bin/python bench/singer_io_launcher.py -c
CONFIG [...]`. The config's `api_url` becomes the client's base URL (`api_url + "/api/v4"`); nothing else
changes. Run it as a script, so that this repository's own `tap_gitlab` package is not on the path.
"""

import tap_gitlab
import tap_gitlab.client

_init = tap_gitlab.client.Client.__init__


def _init_with_base_url(self, config):
    _init(self, config)
    self.base_url = config["api_url"].rstrip("/") + "/api/v4"


tap_gitlab.client.Client.__init__ = _init_with_base_url

if __name__ == "__main__":
    tap_gitlab.main()
