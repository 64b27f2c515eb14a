"""Every use of singer-sdk's private names, in one place.

The tap needs a few things singer-sdk has no public hook for: when a stream's ACTIVATE_VERSION goes out and with
which version, when bookmarks move (a fan-out bookmark moves only after a parent's children are out), that a
record keeps the ids it carries rather than its partition's, a STATE between pages, the starting value of a
partition planned ahead, our own config check before the SDK's, the last STATE of a failed run, and the SDK's
per-schema value conformers (tap_gitlab/conform.py). Each is wrapped here as a public hook or helper, so an
upgrade of singer-sdk has this one file to check; tests/unit/test_sdk_adapter.py pins every private name and
signature used below against the installed singer-sdk.
"""

from __future__ import annotations

import typing as t

from singer_sdk import Stream, Tap
from singer_sdk.helpers import _typing, _util
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage

from tap_gitlab import singer_output

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

# What conform.py uses of singer-sdk's type helpers (`singer_sdk.helpers._typing`).
conform_primitive_property: Callable[[t.Any, dict[str, t.Any]], t.Any] = _typing._conform_primitive_property
is_exclusive_boolean_type: Callable[[dict[str, t.Any]], bool] = _typing._is_exclusive_boolean_type
is_object_type: Callable[[dict[str, t.Any]], bool | None] = _typing.is_object_type
is_uniform_list: Callable[[dict[str, t.Any]], bool | None] = _typing.is_uniform_list

Record = dict[str, t.Any]
Context = t.Mapping[str, t.Any]

# Every private singer-sdk name this module relies on, by owner (tests/unit/test_sdk_adapter.py checks them).
PRIVATE_STREAM_METHODS = (
    "_sync_records",
    "_increment_stream_state",
    "_process_record",
    "_write_state_message",
    "_write_starting_replication_value",
    "_write_activate_version_message",
    "_generate_record_messages",
)
PRIVATE_STREAM_ATTRIBUTES = ("_stream_version",)
PRIVATE_TAP_METHODS = ("_validate_config",)
PRIVATE_TAP_ATTRIBUTES = ("_state_writer",)
PRIVATE_TYPING_NAMES = (
    "_conform_primitive_property",
    "_is_exclusive_boolean_type",
    "is_object_type",
    "is_uniform_list",
)


class AdaptedStream(Stream):
    """singer-sdk's `Stream` with the private hooks the tap needs made public.

    Subclasses override `sync_around` (what wraps a stream's sync) and `bookmark_update` (whether and how a
    record moves the bookmark), and call the helpers below.
    """

    # -- hooks ------------------------------------------------------------------------------------------------

    def sync_around(
        self, context: Context | None, *, write_messages: bool, sync: Callable[[], Iterator[Record]]
    ) -> Iterator[Record]:
        """Wraps the SDK's sync of one stream (or partition): `sync()` is the SDK's own. Default: just it."""
        yield from sync()

    def bookmark_update(self, latest_record: Record) -> Record | None:
        """The record to move the bookmark with, for a record the SDK just emitted (None: it moves nothing)."""
        return latest_record

    # -- the SDK's private methods, routed to the hooks --------------------------------------------------------

    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, t.Any], t.Any, t.Any]:
        def sync() -> Iterator[Record]:
            return super(AdaptedStream, self)._sync_records(context, write_messages=write_messages)

        yield from self.sync_around(context, write_messages=write_messages, sync=sync)

    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        update = self.bookmark_update(latest_record)
        if update is not None:
            super()._increment_stream_state(update, context=context)

    def _process_record(
        self,
        record: Record,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # Readers already put the ids that belong in each record; the SDK would also copy every partition key
        # into it, which is wrong for listings that span a group.
        super()._process_record(record, child_context=child_context, partition_context=None)

    def _generate_record_messages(self, record: Record) -> Generator[RecordMessage, None, None]:
        # The SDK first walks every record for deselected properties (a copy of each dict, a mask lookup per
        # key) and then conforms it; with every property selected and conformance off (GitLabStream: our
        # Conformer runs in post_process), both leave the record as it is: go straight to the stream maps.
        if self.TYPE_CONFORMANCE_LEVEL is not TypeConformanceLevel.NONE or not self.all_properties_selected():
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=_util.utc_now(),
                )

    def all_properties_selected(self) -> bool:
        """Whether the selection mask keeps every property (its missing breadcrumbs default to their parent's)."""
        mask = self.mask
        known = self.__dict__.get("_tap_gitlab_mask")
        if known is None or known[0] is not mask:
            known = (mask, all(mask.values()))
            self.__dict__["_tap_gitlab_mask"] = known
        return known[1]

    # -- helpers ------------------------------------------------------------------------------------------------

    def move_bookmark(self, latest_record: Record, context: Context | None) -> None:
        """Move the bookmark with `latest_record` now, whatever `bookmark_update` says (the SDK's own rules)."""
        super()._increment_stream_state(latest_record, context=context)

    def write_state_message(self) -> None:
        """A STATE now (if anything changed since the last one)."""
        self._write_state_message()

    def write_starting_value(self, context: Context | None) -> None:
        """Record a partition's starting value (the SDK does when it starts syncing it; a no-op then)."""
        self._write_starting_replication_value(context)

    def set_stream_version(self, version: int) -> None:
        """The version the stream's RECORDs carry and its ACTIVATE_VERSION announces."""
        self._stream_version = version

    def write_activate_version(self) -> None:
        """The stream's ACTIVATE_VERSION, with the version `set_stream_version` gave."""
        assert self._stream_version is not None
        self._write_activate_version_message(self._stream_version)


class AdaptedTap(Tap):
    """singer-sdk's `Tap` with the private hooks the tap needs made public.

    Its Singer output goes through tap_gitlab/singer_output.py (the SDK's bytes, less CPU): the message writer by
    the SDK's public `message_writer_class`, the STATE writer in place of the SDK's `_state_writer`.
    """

    message_writer_class = singer_output.writer_class()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.message_writer, singer_output.SingerWriter):
            self._state_writer = singer_output.StateWriter(self.message_writer)  # type: ignore[assignment]

    def check_settings(self) -> None:
        """Runs before the SDK's JSON Schema check of the config (raise to stop with one clear line)."""

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        if raise_errors:
            self.check_settings()
        return super()._validate_config(raise_errors=raise_errors)

    def write_state(self) -> None:
        """A STATE with the whole current state (the last words of a failed run)."""
        self._state_writer.write_state(self.state)
