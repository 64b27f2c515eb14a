"""Old name of `tap_gitlab.paginators`, kept while modules and tests still import from it (issue 12: they switch
to `tap_gitlab.paginators`; then this module goes)."""

from tap_gitlab.paginators import END, UpdatedAtSeek, keep_filters, next_page_url, reroot, total_count

__all__ = ["END", "UpdatedAtSeek", "keep_filters", "next_page_url", "reroot", "total_count"]
