"""Render the bad-input table of tests/e2e/test_bad_input.py for README.md: `python -m tests.e2e.bad_input_table`.

Prints the block between the README markers; paste it over the old one (tests/e2e/test_bad_input.py checks that
README.md holds exactly this block).
"""

from __future__ import annotations

START = "<!-- bad-input:start -->"
END = "<!-- bad-input:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    from tests.e2e.test_bad_input import CASES  # the table lives with its test

    lines = [
        START,
        "| Input | The error line (`tap-gitlab: error: …`, exit code 1) contains |",
        "|---|---|",
    ]
    for case in CASES:
        lines.append(f"| {_cell(case.input)} | `{_cell(case.expect)}` |")
    lines.append(END)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
