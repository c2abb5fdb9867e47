"""The Spark options of the commands that read a log: ``--spark-master`` and ``--spark-archive``.

``clv forecast LOG ... --engine spark --spark-master spark://host:7077 --spark-archive env.tar.gz`` runs the
summary on that cluster (:func:`clvmodels.spark.cluster_session`), with the executors' environment shipped
(:func:`clvmodels.spark.pack_environment`); the fit and the forecast follow on this machine as with the
other engines. Both options are checked with the others, before any work (exit 2 naming the option).
"""
from __future__ import annotations

import argparse
import os
import re
import socket

from ..errors import ProblemCollector

#: masters the options accept: standalone, YARN, Kubernetes, local mode
MASTER_PATTERN = re.compile(r"^(spark://[^\s/]+(,[^\s/]+)*|yarn|k8s://\S+|local(\[(\*|[1-9][0-9]*)(,[0-9]+)?\])?)$")
ARCHIVE_EXTENSIONS = (".tar.gz", ".tgz", ".tar", ".zip")


def add_spark_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spark-master", default=None, metavar="URL",
                        help="with --engine spark: run on this Spark master (spark://host:7077, yarn, k8s://https://"
                             "host:443, local[N]) instead of a local session")
    parser.add_argument("--spark-archive", default=None, metavar="PATH",
                        help="with --spark-master: the executors' Python environment, shipped with the job "
                             "(spark.archives; made by clvmodels.spark.pack_environment, venv-pack or conda-pack: "
                             ".tar.gz, .tgz, .tar or .zip, a local file or a URL such as hdfs:///envs/clv.tar.gz)")


def check_spark_options(args, problems: ProblemCollector) -> None:
    """Problems of ``--spark-master`` / ``--spark-archive``: used without ``--engine spark`` (or the archive
    without a master), a master that is not a Spark master URL or where nothing listens (spark://), an
    archive that is missing or of an unknown kind."""
    master = getattr(args, "spark_master", None)
    archive = getattr(args, "spark_archive", None)
    if master is None and archive is None:
        return
    if getattr(args, "engine", "auto") != "spark":
        for option, value in (("--spark-master", master), ("--spark-archive", archive)):
            if value is not None:
                problems.add(option, f"applies to --engine spark only (the engine is {getattr(args, 'engine', 'auto')})")
        return
    if master is not None:
        if not MASTER_PATTERN.match(master):
            problems.add("--spark-master", f"{master!r} is not a Spark master URL: spark://HOST:PORT, yarn, "
                                           "k8s://https://HOST:PORT or local[N]")
        elif master.startswith("spark://"):
            unreachable = [hp for hp in master[len("spark://"):].split(",") if not _listens(hp)]
            if len(unreachable) == len(master[len("spark://"):].split(",")):
                problems.add("--spark-master", f"no Spark master answers at {master} (nothing listens at "
                                               f"{', '.join(unreachable)})")
    if archive is not None:
        if master is None:
            problems.add("--spark-archive", "needs --spark-master (a local session runs this machine's Python)")
        base = archive.split("#", 1)[0]
        if not base.lower().endswith(ARCHIVE_EXTENSIONS):
            problems.add("--spark-archive", f"{archive!r} is not an archive Spark unpacks: "
                                            f"{', '.join(ARCHIVE_EXTENSIONS)}")
        elif "://" not in base and not os.path.isfile(base):
            problems.add("--spark-archive", f"{archive!r} does not exist or is not a file")


def _listens(host_port: str, timeout: float = 2.0) -> bool:
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return False
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def start_spark(args):
    """The cluster session of ``--spark-master`` (with ``--spark-archive`` shipped), started before the
    summary so that ``summarize(..., engine="spark")`` runs in it; None without ``--spark-master``."""
    master = getattr(args, "spark_master", None)
    if master is None or getattr(args, "engine", "auto") != "spark":
        return None
    from ..spark import cluster_session

    return cluster_session(master, archive=getattr(args, "spark_archive", None), app_name="clv")
