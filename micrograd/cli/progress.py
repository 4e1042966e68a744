"""Training progress on stderr, and Ctrl-C as a request to stop between epochs."""
from __future__ import annotations

import math
import signal
import threading
import time


def fmt(v, pct=False):
    """A loss or metric for people: '-' for none, 4 significant digits, or a percentage."""
    if v is None:
        return "-"
    if pct:
        return f"{100 * v:.1f}%"
    return f"{v:.4g}"


def duration(s):
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """Training progress on stderr: a redrawn bar on a terminal (at most ~10 redraws a second),
    otherwise one plain line every `every` epochs plus the last one."""

    def __init__(self, stream, cfg, task, tty=None, quiet=False, min_interval=0.1):
        self.stream, self.cfg, self.quiet = stream, cfg, quiet
        self.tty = stream.isatty() if tty is None else tty
        self.pct = task == "classification"
        self.mname = "acc" if self.pct else "R2"
        self.every = max(1, (cfg.epochs or 1000) // 10)  # until stopped (0): a line every 100
        self.min_interval = min_interval
        self.last_draw = -math.inf
        self.width = 0

    def _text(self, e, done):
        runs = f"run {e.run + 1}/{self.cfg.evals} " if self.cfg.evals > 1 else ""
        rate = e.epoch / e.elapsed if e.elapsed > 0 else 0.0
        budget = f"/{self.cfg.epochs}" if self.cfg.epochs else ""
        parts = [f"{runs}epoch {e.epoch}{budget}", f"loss {fmt(e.train_loss)}"]
        if e.test_loss is not None:
            parts.append(f"test {fmt(e.test_loss)}")
        if e.train_metric is not None:
            parts.append(f"{self.mname} {fmt(e.train_metric, self.pct)}")
        if e.test_metric is not None:
            parts.append(f"test {self.mname} {fmt(e.test_metric, self.pct)}")
        parts.append(f"{rate:.1f} epochs/s")
        if not done and rate > 0 and self.cfg.epochs:
            parts.append(f"ETA {duration((self.cfg.epochs - e.epoch) / rate)}")
        return "  ".join(parts)

    def update(self, e, done):
        if self.quiet:
            return
        if self.tty:
            now = time.monotonic()
            if not done and now - self.last_draw < self.min_interval:
                return
            self.last_draw = now
            frac = e.epoch / self.cfg.epochs if self.cfg.epochs else 0.0
            bar = "#" * int(20 * frac) + "-" * (20 - int(20 * frac))
            text = f"[{bar}] {self._text(e, done)}"
            pad = " " * max(0, self.width - len(text))
            self.width = len(text)
            self.stream.write("\r" + text + pad + ("\n" if done else ""))
            self.stream.flush()
        elif done or e.epoch % self.every == 0:
            self.stream.write(self._text(e, done) + (f"  ({e.stop})" if done and e.stop else "") + "\n")
            self.stream.flush()


class Interrupts:
    """Ctrl-C sets a flag the loop checks between epochs; a second Ctrl-C aborts at once."""

    def __init__(self):
        self.hit = False
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
