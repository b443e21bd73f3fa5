"""Registries of named things (equations, laws, initial conditions, models): a class or
function joins one by the decorator line above its definition, and configs name it."""

import difflib
from collections.abc import Callable, Iterator, Mapping


class Registry(Mapping):
    """A read-only mapping ``name -> class or function`` filled by `register`.

    **Arguments:** `what`: what the entries are, for error messages (e.g. ``"equation"``).

    Looking up an unknown name raises ``KeyError`` with the known names and a
    did-you-mean.
    """

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, Callable] = {}

    def register(self, name: str):
        """Decorator: add the decorated class or function under `name` (unique), and
        return it unchanged."""

        def add(obj):
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.what} {name!r} is already registered ({self._entries[name].__qualname__}).")
            self._entries[name] = obj
            return obj

        return add

    def __getitem__(self, name: str) -> Callable:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self._entries, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise KeyError(f"unknown {self.what} {name!r}; {hint}known: {', '.join(sorted(self._entries))}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"
