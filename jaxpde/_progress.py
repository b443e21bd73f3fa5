"""Progress of long work: a bar on a terminal, plain periodic lines in a log."""

import sys
import time


class Progress:
    """A progress display: a tqdm bar when stderr is a terminal, otherwise one plain
    line every `interval` seconds (so a log file shows how a batch job is doing).
    ``enabled=False`` shows nothing; ``True`` forces the bar.

    **Arguments:** the `total` count, the `initial` count (a resumed run), `enabled`, the
    `unit`'s name, `interval` (seconds between plain lines), and the `stream` (default
    stderr)."""

    def __init__(
        self,
        total: int,
        initial: int = 0,
        *,
        enabled: bool | None = None,
        unit: str = "step",
        interval: float = 10.0,
        stream=None,
    ):
        self.total, self.n, self.unit = int(total), int(initial), unit
        self.stream = sys.stderr if stream is None else stream
        self.interval = float(interval)
        self.postfix = ""
        self._bar = None
        self._last = time.perf_counter()
        self._t0 = self._last
        self._n0 = self.n
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.mode = "off" if enabled is False else ("bar" if enabled or tty else "lines")
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, initial=self.n, unit=unit, dynamic_ncols=True, file=self.stream)

    def update(self, n: int = 1, **postfix):
        self.n += int(n)
        self.postfix = ", ".join(f"{k}={v}" for k, v in postfix.items())
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix(**postfix)
        elif self.mode == "lines":
            now = time.perf_counter()
            if now - self._last >= self.interval or self.n >= self.total:
                self._line(now)

    def _line(self, now):
        rate = (self.n - self._n0) / max(now - self._t0, 1e-9)
        pct = 100.0 * self.n / max(self.total, 1)
        tail = f" {self.postfix}" if self.postfix else ""
        print(
            f"[{self.n}/{self.total} {self.unit}s, {pct:.0f}%, {rate:.3g} {self.unit}/s]{tail}",
            file=self.stream,
            flush=True,
        )
        self._last = now

    def write(self, message: str):
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        elif self.mode != "off":
            print(message, file=self.stream, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
