"""What a person watching a training run sees: one progress line, evaluation folded in, and a clean stop on Ctrl-C.

`ProgressLine` replaces transformers' tqdm bar and its printed dicts: step, loss, lr, tokens/s and
ETA on one line (rewritten in place on a terminal, one line per log step in a file), with the latest
validation loss beside them. `SaveOnInterrupt` turns the first SIGINT into "finish this step, write
a checkpoint, stop"; a second SIGINT interrupts at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import TextIO

from codexsd.core.imports import require

log = logging.getLogger(__name__)

FILE_LINE_EVERY_S = 30.0

_transformers = require("transformers")
TrainerCallback = _transformers.TrainerCallback


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class TokenMeter:
    """Target-side throughput: real (non-padding) training tokens over training time, evaluation excluded."""

    def __init__(self, collator):
        self.collator = collator
        self.tokens = 0
        self.seconds = 0.0
        self._mark_tokens = 0
        self._mark_time = 0.0

    def _real(self) -> int:
        return self.collator.tokens - self.collator.padding_tokens

    def start(self) -> None:
        self._mark_tokens, self._mark_time = self._real(), time.monotonic()

    def step_done(self) -> None:
        now, real = time.monotonic(), self._real()
        self.tokens += real - self._mark_tokens
        self.seconds += now - self._mark_time
        self._mark_tokens, self._mark_time = real, now

    def per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


class ProgressLine(TrainerCallback):
    def __init__(self, stream: TextIO | None, meter: TokenMeter):
        self.stream = stream
        self.meter = meter
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.loss: float | None = None
        self.lr: float | None = None
        self.eval_loss: float | None = None
        self.best_eval: float | None = None
        self.start_step = 0
        self._width = 0
        self._last_line = time.monotonic()
        self._last_text = ""

    def on_train_begin(self, args, state, control, **kwargs):
        self.start_step = state.global_step
        self.meter.start()

    def on_step_end(self, args, state, control, **kwargs):
        self.meter.step_done()
        # a terminal line is redrawn every step; a log file gets a line per loss reading, or at least every 30 s
        if self.tty or time.monotonic() - self._last_line >= FILE_LINE_EVERY_S:
            self._show(state)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.meter.start()  # tokens collated for evaluation are not training throughput
        if metrics and "eval_loss" in metrics:
            self.eval_loss = float(metrics["eval_loss"])
            self.best_eval = self.eval_loss if self.best_eval is None else min(self.best_eval, self.eval_loss)
            self._show(state, force_line=True)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.loss = float(logs["loss"])
        if "learning_rate" in logs:
            self.lr = float(logs["learning_rate"])
        if "loss" in logs and not self.tty:
            self._show(state, force_line=True)

    def on_train_end(self, args, state, control, **kwargs):
        if self.stream is not None and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()

    def line(self, state) -> str:
        total = state.max_steps or 0
        done = state.global_step - self.start_step
        left = max(0, total - state.global_step)
        per_step = self.meter.seconds / done if done else 0.0
        parts = [f"step {state.global_step}/{total}"]
        parts.append(f"loss {self.loss:.4f}" if self.loss is not None else "loss -")
        if self.lr is not None:
            parts.append(f"lr {self.lr:.2e}")
        parts.append(f"{self.meter.per_second():,.0f} tok/s")
        parts.append(f"eta {_duration(left * per_step)}" if done else "eta -")
        if self.eval_loss is not None:
            parts.append(f"eval loss {self.eval_loss:.4f} (best {self.best_eval:.4f})")
        return "train: " + " | ".join(parts)

    def _show(self, state, force_line: bool = False) -> None:
        if self.stream is None:
            return
        text = self.line(state)
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            if force_line:
                self.stream.write("\n")
                self._width = 0
        elif text != self._last_text:
            self.stream.write(text + "\n")
        self._last_text = text
        self._last_line = time.monotonic()
        self.stream.flush()


class SaveOnInterrupt(TrainerCallback):
    """First SIGINT: finish the step, checkpoint, stop. Second: KeyboardInterrupt as usual."""

    def __init__(self):
        self.interrupted = False
        self._previous = None

    def _handle(self, signum, frame):
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        log.warning("interrupt: saving a checkpoint after this step (Ctrl-C again to stop at once)")

    def on_train_begin(self, args, state, control, **kwargs):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def on_step_end(self, args, state, control, **kwargs):
        if self.interrupted:
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_train_end(self, args, state, control, **kwargs):
        self.restore()

    def restore(self) -> None:
        """Put back the SIGINT handler that was there before training (also after an exception)."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
