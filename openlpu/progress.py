"""Progress on the terminal for long steps: a tqdm bar that keeps ticking while one call runs.

A step that is one long call (an Amaranth conversion, a Verilator build, a compile) shows no
progress of its own; :func:`ticking` runs it under a tqdm bar that a background thread
refreshes every ``interval`` seconds, so the elapsed time (and, with ``status``, a word on
what the call is doing) keeps moving. :func:`build_status` reads how far a Verilator build
has got from the files in its build directory.
"""

import contextlib
import threading
from pathlib import Path

__all__ = ["ticking", "build_status"]


@contextlib.contextmanager
def ticking(desc, total=None, status=None, interval=1.0):
    """A tqdm bar (yielded: ``bar.update(n)`` counts finished parts out of ``total``) refreshed
    every ``interval`` seconds by a thread until the block ends; ``status()`` (a short string)
    is shown after the bar at every refresh. The bar goes to stderr and is removed at the end."""
    from tqdm import tqdm
    stop = threading.Event()
    with tqdm(total=total, desc=desc, leave=False, bar_format=_FORMAT[total is None]) as bar:
        def tick():
            while not stop.wait(interval):
                if status is not None:
                    bar.set_postfix_str(status(), refresh=False)
                bar.refresh()
        thread = threading.Thread(target=tick, daemon=True)
        thread.start()
        try:
            yield bar
        finally:
            stop.set()
            thread.join()


#: Bar formats: with a total (parts done out of it), without one (a spinner-like elapsed counter).
_FORMAT = {False: "{desc}: {n_fmt}/{total_fmt} {bar:20} {elapsed}{postfix}",
           True: "{desc}: {elapsed} elapsed{postfix}"}


def build_status(root, pattern):
    """How far the newest build directory under ``root`` matching ``pattern`` has got:
    ``"verilating"`` before Verilator wrote its C++, ``"runtime, precompiled header"`` while make
    compiles those first, ``"C++ i/n files"`` while it compiles the model, ``"linking"`` after;
    ``""`` when there is no such directory."""
    dirs = sorted(Path(root).glob(pattern), key=lambda p: p.stat().st_mtime)
    if not dirs:
        return ""
    sources = list(dirs[-1].glob("Vtop*.cpp"))
    if not sources:
        return "verilating"
    done = sum(1 for p in sources if p.with_suffix(".o").exists())
    if done == 0:
        return "runtime, precompiled header"
    return f"C++ {done}/{len(sources)} files" if done < len(sources) else "linking"
