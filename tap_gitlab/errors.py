"""Exceptions with one-line, token-free messages.

`UserError` and its subclasses are problems the person running the tap can fix (bad config, bad token,
unknown group). The CLI prints them as one line and exits 1, without a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and how to fix it."""


class ConfigError(UserError):
    """An invalid setting."""


class AuthError(UserError):
    """The credentials were rejected or lack a scope."""


class ScopeError(UserError):
    """A configured group or project does not exist or is not visible to the token."""


class GitLabAPIError(UserError):
    """GitLab answered with an error that retrying will not fix."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ResourceUnavailable(GitLabAPIError):
    """403 or 404 on a resource: a feature disabled in one project, an unlicensed group, a deleted project."""


class RunStopped(Exception):
    """The run is stopping (a partition failed): requests still running in other workers give up at once.

    Raised only in worker threads after `GitLabClient.close()`; their results are no longer read.
    """


class TransientError(Exception):
    """A failure that retrying may fix (5xx, reset, timeout, truncated body); retried by the HTTP layer."""
