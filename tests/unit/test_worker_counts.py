"""How many workers each server starts by default (idp/serving.py `workers`): what an operator
gets from `idp serve` without WEB_CONCURRENCY, on the CPUs the process may use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPORT = (
    "import json, sys; from idp.serving import granian_argv, workers; "
    "env = json.loads(sys.argv[1]); argv = granian_argv('granian', env); "
    "granian = int(argv[argv.index('--workers') + 1]); "
    "print(json.dumps({'gunicorn': workers(env, 'gunicorn'), 'granian': granian}))"
)


def defaults(cpus: set[int], env: dict[str, str] | None = None) -> dict[str, int]:
    """The counts a process pinned to `cpus` (as by taskset or a container's cpuset) chooses."""
    listed = ",".join(str(cpu) for cpu in sorted(cpus))
    result = subprocess.run(
        ["taskset", "-c", listed, sys.executable, "-c", REPORT, json.dumps(env or {})],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_one_cpu_gets_two_gunicorn_workers_and_one_granian_worker() -> None:
    first = min(os.sched_getaffinity(0))
    assert defaults({first}) == {"gunicorn": 2, "granian": 1}


def test_every_cpu_gets_its_workers_up_to_four() -> None:
    cpus = os.sched_getaffinity(0)
    assert defaults(cpus) == {"gunicorn": min(4, 2 * len(cpus)), "granian": min(4, len(cpus))}


@pytest.mark.parametrize("count", ["1", "3"])
def test_web_concurrency_decides_for_both_servers(count: str) -> None:
    first = min(os.sched_getaffinity(0))
    assert defaults({first}, {"WEB_CONCURRENCY": count}) == {
        "gunicorn": int(count),
        "granian": int(count),
    }
