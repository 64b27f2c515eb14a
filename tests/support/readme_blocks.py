"""Generated blocks of README.md: each lives between an HTML-comment start and end marker."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def read_block(start: str, end: str, path: Path = README) -> str:
    """The block from `start` through `end` (markers included)."""
    text = path.read_text(encoding="utf-8")
    return text[text.index(start) : text.index(end) + len(end)]


def write_block(start: str, end: str, block: str, path: Path = README) -> None:
    """Replace the block from `start` through `end` with `block` (which carries the markers); nothing else."""
    text = path.read_text(encoding="utf-8")
    begin, finish = text.index(start), text.index(end) + len(end)
    path.write_text(text[:begin] + block + text[finish:], encoding="utf-8")
