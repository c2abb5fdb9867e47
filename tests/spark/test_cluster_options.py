"""``--spark-master`` / ``--spark-archive`` are checked with the other options, before any work (no Spark,
no Java needed): exit 2, every problem named by its option."""
from __future__ import annotations

import socket

import pytest

from clvmodels.cli import main
from clvmodels.datasets import cdnow_sample_path


def run(capsys, *extra, command="summarize", tmp_path=None) -> tuple[int, str]:
    out = str(tmp_path / "out.parquet")
    args = [command, str(cdnow_sample_path()), "--observation-end", "1998-06-30", "--quiet", *extra]
    if command == "validate":
        args += ["--calibration-end", "1997-09-30", "--json", str(tmp_path / "out.json")]
    else:
        args += ["-o", out] + (["--horizon", "52"] if command == "forecast" else [])
    code = main(args)
    return code, capsys.readouterr().err


def test_spark_options_need_the_spark_engine(capsys, tmp_path):
    code, err = run(capsys, "--spark-master", "spark://127.0.0.1:7077", "--spark-archive", "env.tar.gz",
                    tmp_path=tmp_path)
    assert code == 2
    assert "--spark-master': applies to --engine spark only (the engine is auto)" in err
    assert "--spark-archive': applies to --engine spark only" in err
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("command", ["summarize", "forecast", "validate"])
def test_bad_master_and_archive_are_refused_before_any_work(capsys, tmp_path, command):
    code, err = run(capsys, "--engine", "spark", "--spark-master", "http://host:7077", "--spark-archive",
                    str(tmp_path / "env.rar"), command=command, tmp_path=tmp_path)
    assert code == 2, err
    assert "'http://host:7077' is not a Spark master URL" in err
    assert "is not an archive Spark unpacks: .tar.gz, .tgz, .tar, .zip" in err


def test_a_master_where_nothing_listens_and_a_missing_archive(capsys, tmp_path):
    with socket.socket() as s:  # a port nothing listens on (bound, never listening)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        code, err = run(capsys, "--engine", "spark", "--spark-master", f"spark://127.0.0.1:{port}",
                        "--spark-archive", str(tmp_path / "missing.tar.gz"), tmp_path=tmp_path)
    assert code == 2
    assert f"no Spark master answers at spark://127.0.0.1:{port}" in err
    assert "missing.tar.gz' does not exist or is not a file" in err
    code, err = run(capsys, "--engine", "spark", "--spark-archive", str(tmp_path / "missing.tar.gz"),
                    tmp_path=tmp_path)
    assert code == 2 and "--spark-archive': needs --spark-master" in err


def test_master_urls_of_every_cluster_manager_are_accepted():
    from clvmodels.cli.spark_options import MASTER_PATTERN

    for ok in ("spark://h:7077", "spark://a:7077,b:7077", "yarn", "k8s://https://10.0.0.1:443", "local",
               "local[4]", "local[*]"):
        assert MASTER_PATTERN.match(ok), ok
    for bad in ("spark://", "http://h:7077", "local[0]", "yarn-cluster", "spark://h:7077/x"):
        assert not MASTER_PATTERN.match(bad), bad


def test_the_readme_cluster_section_calls_the_api_as_it_is():
    """The README's "On your cluster" snippet: every ``clvspark.<name>(...)`` call binds to the function's
    signature (names and keywords), and the options it names are the CLI's (without Java; the cluster
    tests run the snippet itself)."""
    import ast
    import inspect
    import re
    from pathlib import Path

    import clvmodels.spark as clvspark
    from clvmodels.cli import build_parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### On your cluster", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    calls = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and isinstance(n.func.value, ast.Name) and n.func.value.id == "clvspark"]
    assert {c.func.attr for c in calls} == {"pack_environment", "cluster_session", "summarize_spark",
                                            "fit_models_spark", "score_spark", "write_forecast_parquet"}
    for call in calls:
        fn = getattr(clvspark, call.func.attr)
        inspect.signature(fn).bind(*[None] * len(call.args), **{k.arg: None for k in call.keywords})
    help_text = build_parser().format_help() + "".join(
        a.choices[c].format_help() for a in build_parser()._subparsers._group_actions for c in ("summarize", "forecast"))
    for option in set(re.findall(r"--spark-[a-z]+", section)):
        assert option in help_text, option
