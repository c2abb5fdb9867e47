"""A Spark standalone cluster on this machine, for tests, benchmarks and trying the cluster path.

:class:`StandaloneCluster` starts a master and a worker as separate processes from the PySpark package
(``spark-class org.apache.spark.deploy.master.Master`` / ``...deploy.worker.Worker``, with ``SPARK_HOME``
the pyspark directory), bound to 127.0.0.1 on free ports, and stops them by process group. The daemons
get a clean environment: no ``PYTHONPATH``, ``PYSPARK_PYTHON`` or virtual environment of this process,
so their executors see what a fresh worker machine would (the system ``python3``, without clvmodels),
and whatever runs there must come with the application (:func:`clvmodels.spark.cluster_session`).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

__all__ = ["StandaloneCluster", "spark_home", "free_port", "descendants", "alive"]

#: variables of this process the daemons (and so their executors) must not inherit
_SCRUBBED = ("PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV", "PYTHONHOME", "SPARK_HOME",
             "SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS")


def spark_home() -> str:
    """The pyspark package directory: a Spark installation (``bin/spark-class``, ``jars/``)."""
    import pyspark

    return os.path.dirname(os.path.abspath(pyspark.__file__))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandaloneCluster:
    """A master and one worker of a Spark standalone cluster on 127.0.0.1.

    ``cores`` and ``memory`` (e.g. ``"1g"``) are what the worker offers to applications;
    ``default_cores`` is the most cores the master gives an application that does not set
    ``spark.cores.max`` (the master's ``spark.deploy.defaultCores``; default: all), so that applications
    written for a shared cluster can run side by side; ``daemon_memory`` is the heap of the master and
    worker JVMs themselves. Use as a context manager,
    or call :meth:`start` and :meth:`stop`. After :meth:`start`: ``master_url`` (``spark://127.0.0.1:PORT``),
    ``pids`` (the two daemons' process ids, each the leader of its own process group), ``work_dir``
    (the worker's application directories and both daemons' logs, removed by :meth:`stop` unless
    ``keep_work_dir``).
    """

    def __init__(self, *, cores: int = 2, memory: str = "1g", default_cores: int | None = None,
                 daemon_memory: str = "256m", timeout: float = 90.0, work_dir: str | None = None,
                 keep_work_dir: bool = False):
        self.cores, self.memory, self.daemon_memory, self.timeout = cores, memory, daemon_memory, timeout
        self.default_cores = default_cores
        self.work_dir = work_dir
        self.keep_work_dir = keep_work_dir or work_dir is not None
        self.master_url: str | None = None
        self.master_ui: str | None = None
        self.pids: list[int] = []
        self._procs: list[subprocess.Popen] = []
        self._logs: list = []

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "StandaloneCluster":
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise RuntimeError("Spark needs Java (17 or 21): no java on the PATH and no JAVA_HOME")
        home = spark_home()
        spark_class = os.path.join(home, "bin", "spark-class")
        if self.work_dir is None:
            self.work_dir = tempfile.mkdtemp(prefix="clvmodels-spark-cluster-")
        os.makedirs(self.work_dir, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        venv = os.environ.get("VIRTUAL_ENV")
        import sys

        bins = {os.path.dirname(sys.executable)} | ({os.path.join(venv, "bin")} if venv else set())
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p not in bins)
        env.update(SPARK_HOME=home, SPARK_LOCAL_IP="127.0.0.1", SPARK_DAEMON_MEMORY=self.daemon_memory,
                   SPARK_LOG_DIR=self.work_dir, SPARK_NO_DAEMONIZE="1")
        if self.default_cores is not None:  # spark-class passes SPARK_MASTER_OPTS to the master's JVM only
            env["SPARK_MASTER_OPTS"] = f"-Dspark.deploy.defaultCores={int(self.default_cores)}"
        port, ui = free_port(), free_port()
        self.master_url = f"spark://127.0.0.1:{port}"
        self.master_ui = f"http://127.0.0.1:{ui}"
        try:
            self._spawn([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                         "--port", str(port), "--webui-port", str(ui)], env, "master.log")
            self._wait(lambda s: s is not None, "the master")
            self._spawn([spark_class, "org.apache.spark.deploy.worker.Worker", self.master_url, "--host",
                         "127.0.0.1", "--port", str(free_port()), "--webui-port", str(free_port()),
                         "--cores", str(self.cores), "--memory", self.memory,
                         "--work-dir", os.path.join(self.work_dir, "work")], env, "worker.log")
            self._wait(lambda s: s is not None and any(w.get("state") == "ALIVE" for w in s.get("workers", [])),
                       "the worker to register")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both daemons and everything they started (executors, Python workers): SIGTERM to each
        process group, SIGKILL to what is left after 10 s (also to descendants that left the groups:
        PySpark's Python daemon makes a group of its own); then remove the work directory."""
        family = descendants(self.pids)
        for proc in reversed(self._procs):
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in reversed(self._procs):
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc.pid, signal.SIGKILL)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for fh in self._logs:
            fh.close()
        self._procs, self._logs = [], []
        if self.work_dir and not self.keep_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> "StandaloneCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- inspection ---------------------------------------------------------------------------------
    def state(self) -> dict | None:
        """The master's JSON status (workers, applications), or None if it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.master_ui}/json/", timeout=2) as resp:
                return json.loads(resp.read().decode())
        except (OSError, ValueError):
            return None

    def log(self, name: str = "worker.log") -> str:
        """The text of a daemon's log (``master.log`` or ``worker.log``)."""
        try:
            with open(os.path.join(self.work_dir or "", name), errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    # -- internals ----------------------------------------------------------------------------------
    def _spawn(self, cmd: list[str], env: dict, log_name: str) -> None:
        fh = open(os.path.join(self.work_dir, log_name), "w")
        self._logs.append(fh)
        # a session (and so a process group) of its own: stop() signals the JVM and all its children
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=self.work_dir)
        self._procs.append(proc)
        self.pids.append(proc.pid)

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for proc, name in zip(self._procs, ("master.log", "worker.log")):
                if proc.poll() is not None:
                    raise RuntimeError(f"the Spark {name[:-4]} exited with {proc.returncode}:\n{self.log(name)[-3000:]}")
            if ready(self.state()):
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {self.timeout:.0f} s waiting for {what}:\n{self.log('master.log')[-2000:]}"
                           f"\n{self.log('worker.log')[-2000:]}")


def descendants(pids) -> list[int]:
    """Process ids of all living descendants of ``pids`` (from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:  # pragma: no cover - not Linux
        return []
    for e in entries:
        try:
            with open(f"/proc/{e}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(e))
    out, todo = [], list(pids)
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    """Whether a process with this id exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
