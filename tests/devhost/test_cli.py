"""`python -m devhost`'s options mean the same before and after the `serve` command."""

from __future__ import annotations

import pytest

from devhost.__main__ import _parser


@pytest.mark.parametrize(
    ("argv", "port", "no_demo"),
    [
        ([], 7071, False),
        (["--port", "9001"], 9001, False),
        (["serve", "--port", "9002"], 9002, False),
        (["--port", "9003", "serve"], 9003, False),
        (["--no-demo", "serve", "--port", "9004"], 9004, True),
    ],
)
def test_serve_options_anywhere(argv: list[str], port: int, no_demo: bool) -> None:
    args = _parser().parse_args(argv)
    assert (args.port, args.no_demo) == (port, no_demo)
