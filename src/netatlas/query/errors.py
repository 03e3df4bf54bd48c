"""The one error the search language raises: where, and what was expected."""

from __future__ import annotations


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed or whose values do not fit their fields.

    ``column`` is 1-based over the query text; ``expected`` lists human-readable
    names of what would have been accepted there.
    """

    def __init__(
        self, message: str, query: str, column: int, expected: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.query = query
        self.column = column
        self.expected = list(expected or [])

    def __str__(self) -> str:
        # One line of context: control characters (newlines, tabs) would break the caret.
        shown = "".join(ch if ch.isprintable() else " " for ch in self.query)
        caret = " " * (self.column - 1) + "^"
        return f"syntax error at column {self.column}: {self.message}\n  {shown}\n  {caret}"
