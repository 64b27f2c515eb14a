"""`python -m tap_gitlab` runs the tap."""

from tap_gitlab.cli import main

main()
