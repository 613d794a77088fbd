"""Regression work spread over a Dask cluster.

:class:`SeedCluster` runs functions of seeds (or batches of seeds) on worker
processes: by default a local cluster of this machine's cores, started and
stopped with the regression; with ``address`` an existing cluster (``dask
scheduler`` on one machine, ``dask worker tcp://HOST:8786`` on each of the
others, every one with this package installed). :meth:`SeedCluster.prepare`
runs once on every worker before any work (the regression builds its
simulator model there, so a worker builds it once and each of its batches
reuses it); :meth:`SeedCluster.map` yields results as they complete, in any
order, with a progress bar.

Why Dask: it installs from PyPI as pure Python, starts a local cluster of
worker processes inside the calling program in about two seconds and reaches
a remote one with the same ``Client`` call; mapping a function over seeds is
all the regression needs. Ray would bring its own daemons (GCS, raylet) and a
far larger wheel for the same job.
"""

import os

__all__ = ["SeedCluster"]


class SeedCluster:
    """A Dask client on a local cluster of ``workers`` processes, or on the cluster at ``address``.

    Use as a context manager. Each worker runs one task at a time (one thread):
    a task runs a simulator, which is single-threaded, and two on one core
    would only contend.
    """

    def __init__(self, workers=None, address=None):
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers, self.address = workers, address
        self._cluster = self._client = None

    def __enter__(self):
        from distributed import Client, LocalCluster
        if self.address:
            self._client = Client(self.address)
        else:
            # memory_limit=0: a Verilator build may take several GB for a moment; the
            # nanny must not restart the worker for it.
            self._cluster = LocalCluster(n_workers=self.workers or os.cpu_count(), threads_per_worker=1,
                                         processes=True, memory_limit=0, dashboard_address=None)
            self._client = Client(self._cluster)
        return self

    def __exit__(self, *exc):
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    @property
    def worker_addresses(self):
        return sorted(self._client.scheduler_info()["workers"])

    def prepare(self, fn, *args):
        """Run ``fn(*args)`` once on every worker (as a task pinned to it) and wait for all."""
        futures = [self._client.submit(fn, *args, workers=[w], pure=False, allow_other_workers=False)
                   for w in self.worker_addresses]
        return self._client.gather(futures)

    def map(self, fn, items, *args, desc="", unit="seed", weight=len):
        """Yield ``(item, fn(item, *args))`` as each completes; the bar advances by ``weight(item)``."""
        from distributed import as_completed
        from tqdm import tqdm
        futures = {self._client.submit(fn, item, *args, pure=False): item for item in items}
        with tqdm(total=sum(weight(i) for i in items), unit=unit, desc=desc) as bar:
            for future in as_completed(futures):
                item = futures[future]
                yield item, future.result()
                bar.update(weight(item))

    @staticmethod
    def write(line):
        """Print a line above the progress bar."""
        from tqdm import tqdm
        tqdm.write(line)
