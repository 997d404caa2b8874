"""`make bench`: load the server as production runs it and write bench/RESULTS.md.

For each set-up (SQLite default; PostgreSQL + Redis): a fresh database, `idp migrate`, a tenant
and two clients made with the `idp` command, gunicorn started from the Procfile line on CPU 0,
then wrk on CPU 1 for each scenario. A run with any non-200 response is reported INVALID and the
command exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from pathlib import Path

from bench import report
from bench.backends import Backend, BackendUnavailable, postgres_backend, sqlite_backend
from bench.capacity import People, SignIns, provision_people, refresh_scenario, sign_ins
from bench.load import (
    FLOOR,
    FORM,
    Measurement,
    Scenario,
    basic,
    ensure_wrk,
    request_once,
    run_wrk,
    scenarios,
)
from bench.reference import Reference, ReferenceUnavailable, install, serve_reference
from bench.server import (
    ROOT,
    SERVER_CPU,
    SERVERS,
    TENANT,
    Credentials,
    Provisioned,
    Server,
    gunicorn_command,
    password_cost,
    provision,
    rsa_sign_ms,
    serve,
    server_env,
)
from bench.tenants import TENANTS, grow, one_tenant, spread_scenario

SETUPS: dict[str, Callable[[], AbstractContextManager[Backend]]] = {
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--setup", choices=[*SETUPS, "all"], default="all")
    parser.add_argument("--seconds", type=int, default=10, help="Measured seconds per request.")
    parser.add_argument("--warmup", type=int, default=3, help="Unmeasured seconds before each.")
    parser.add_argument(
        "--runs", type=int, default=3, help="Measured runs per request; the median is reported."
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk keep-alive connections.")
    parser.add_argument(
        "--only",
        action="append",
        help="Measure only this row (repeatable): a request's name, signin, or tenants.",
    )
    parser.add_argument(
        "--tenant-spread",
        type=int,
        default=TENANTS - 1,
        help="How many of the grown database's tenants the tenants row cycles through.",
    )
    parser.add_argument("--workers", type=int, help="WEB_CONCURRENCY; default gunicorn.conf.py.")
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS; default gunicorn.conf.py.")
    parser.add_argument("--server", choices=SERVERS, default="gunicorn", help="Ours: which server.")
    parser.add_argument(
        "--no-reference", action="store_true", help="Do not measure node-oidc-provider."
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "bench" / "RESULTS.md", help="'-' to print only."
    )
    return parser.parse_args(argv)


def overrides(args: argparse.Namespace) -> dict[str, str]:
    tuning = {}
    if args.workers:
        tuning["WEB_CONCURRENCY"] = str(args.workers)
    if args.threads:
        tuning["GUNICORN_THREADS"] = str(args.threads)
    return tuning


def server_settings(backend: Backend, kind: str, tuning: dict[str, str]) -> tuple[int, int]:
    """Workers and threads as the server resolves them, pinned like the server (the default
    worker count follows the CPUs it may run on)."""
    env = server_env(backend, 0, tuning)
    if kind == "granian":
        pinned = subprocess.run(
            ["taskset", "-c", SERVER_CPU, sys.executable, "-c", SERVING_SETTINGS],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        return int(pinned[0]), int(pinned[1])
    printed = subprocess.run(
        ["taskset", "-c", SERVER_CPU, *gunicorn_command(), "--print-config"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    pairs = (line.split("=", 1) for line in printed.splitlines() if "=" in line)
    config = {name.strip(): value.strip() for name, value in pairs}
    return int(config["workers"]), int(config["threads"])


SERVING_SETTINGS = (
    "import os; from idp import serving; "
    "print(serving.workers(os.environ, 'granian'), serving.threads(os.environ))"
)


def load(
    wrk: str, server: Server, scenario: Scenario, args: argparse.Namespace
) -> Iterator[Measurement]:
    """A checked sample, a warm-up run, then each measured run as it ends."""
    request_once(server, scenario)
    run_wrk(wrk, server, scenario, args.connections, args.warmup)
    for _ in range(args.runs):
        yield run_wrk(wrk, server, scenario, args.connections, args.seconds)


def alternate(*runs: Iterator[Measurement]) -> list[list[Measurement]]:
    """Each server's runs interleaved (ours, theirs, ours, ...): drift hits both alike."""
    collected: list[list[Measurement]] = [[] for _ in runs]
    for batch in zip(*runs, strict=True):
        for index, measurement in enumerate(batch):
            collected[index].append(measurement)
    return collected


def measure_floor(
    backend: Backend, args: argparse.Namespace, wrk: str, tuning: dict[str, str]
) -> Measurement:
    """The trivial WSGI app under the same server and settings: the most any app gets there."""
    with serve(backend, tuning, args.server, floor=True) as server:
        m = median_run(list(load(wrk, server, FLOOR, args)))
    print(f"  {'floor':12} {m.rate:8,.0f} req/s  {m.rate_per_cpu_second:8,.0f}/CPU-s", flush=True)
    return m


def measure(
    backend: Backend, args: argparse.Namespace, wrk: str, node: str | None
) -> report.SetupResult:
    """Provision, serve, load each scenario; print each figure as soon as it is known."""
    load_average = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    sign_before = rsa_sign_ms()
    clients = provision(backend)
    people = provision_people(backend) if wanted(args, "signin") else None
    tuning = overrides(args)
    workers, threads = server_settings(backend, args.server, tuning)
    floor = measure_floor(backend, args, wrk, tuning)
    with ExitStack() as stack:
        server = stack.enter_context(serve(backend, tuning, args.server))
        reference = stack.enter_context(serve_reference(node, backend.directory)) if node else None
        token = str(request_once(server, scenarios(server, clients, "")[0])["access_token"])
        chosen = [
            scenario
            for scenario in scenarios(server, clients, token)
            if not args.only or scenario.name in args.only
        ]
        theirs: dict[str, Scenario] = {}
        if reference is not None:
            opaque = reference_token(reference)
            theirs = reference.scenarios(chosen, opaque)
        rows = []
        for scenario in chosen:
            counterpart = theirs.get(scenario.name)
            if counterpart is None or reference is None:
                row = report.Row(median_run(list(load(wrk, server, scenario, args))), None)
            else:
                ours, other = alternate(
                    load(wrk, server, scenario, args),
                    load(wrk, reference.server, counterpart, args),
                )
                row = report.Row(median_run(ours), median_run(other))
            rows.append(row)
            print_row(row)
        tenants = (
            tenants_row(backend, server, clients, args, wrk, tuning)
            if wanted(args, "tenants")
            else None
        )
        signed_in, reference_signed_in, refresh = (
            (None, None, None) if people is None else human(server, people, reference, args, wrk)
        )
        rss = server.worker_rss_mb()
        check_log(server)
    sign_after = rsa_sign_ms()
    passwords = password_cost(backend)
    print(f"  RSA-2048 sign on CPU 0: {sign_before:.2f} ms before, {sign_after:.2f} ms after")
    print(f"  argon2id verification on CPU 0: {passwords.verify_ms:.1f} ms", flush=True)
    print(f"  worker RSS MB: {', '.join(f'{mb:.1f}' for mb in rss)}", flush=True)
    return report.SetupResult(
        title=backend.title,
        server=args.server,
        workers=workers,
        threads=threads,
        connections=args.connections,
        seconds=args.seconds,
        runs=args.runs,
        rows=rows,
        floor=floor,
        sign_ins=signed_in,
        reference_sign_ins=reference_signed_in,
        refresh=refresh,
        worker_rss_mb=rss,
        load_average=load_average,
        rsa_sign_ms=(sign_before, sign_after),
        password_cost=passwords,
        tenants=tenants,
    )


SIGN_IN_SECONDS = 10  # enough sign-ins for every refresh run's pool of tokens


def wanted(args: argparse.Namespace, name: str) -> bool:
    return not args.only or name in args.only


def human(
    server: Server,
    people: People,
    reference: Reference | None,
    args: argparse.Namespace,
    wrk: str,
) -> tuple[SignIns, SignIns | None, report.Row | None]:
    """Sign-ins for a while, ours and the reference's, then the refresh grant over the refresh
    tokens they got, alternately: each wrk run starts from tokens of its own, since a spent one
    would be a replay."""
    seconds = max(args.seconds, SIGN_IN_SECONDS)
    signed_in = sign_ins(server, people, seconds)
    print_sign_ins("signin", signed_in)
    reference_signed_in = theirs = None
    if reference is not None:
        web = People(reference.web, people.emails)
        issuer = reference.server.url
        reference_signed_in = sign_ins(reference.server, web, seconds, "reference", issuer)
        print_sign_ins("signin ref", reference_signed_in)
        theirs = refresh_runs(
            reference.server, reference.web, reference_signed_in, "/token", args, wrk
        )
    ours = refresh_runs(server, people.client, signed_in, f"/t/{TENANT}/token", args, wrk)
    if ours is None:
        return signed_in, reference_signed_in, None
    if theirs is None:
        row = report.Row(median_run(list(ours)), None)
    else:
        mine, other = alternate(ours, theirs)
        row = report.Row(median_run(mine), median_run(other))
    print_row(row)
    return signed_in, reference_signed_in, row


def print_sign_ins(label: str, signed_in: SignIns) -> None:
    print(
        f"  {label:12} {signed_in.rate:8,.1f} /s  {signed_in.per_cpu_second:8,.1f}/CPU-s  "
        f"failures {signed_in.failures} {signed_in.first_failures}",
        flush=True,
    )


def refresh_runs(
    server: Server,
    client: Credentials,
    signed_in: SignIns,
    path: str,
    args: argparse.Namespace,
    wrk: str,
) -> Iterator[Measurement] | None:
    """A warm-up, then `--runs` refresh runs, each on a pool of tokens of its own; None (and
    why, printed) when the sign-ins did not give enough tokens."""
    tokens = signed_in.refresh_tokens
    size = args.connections + 4  # each answer puts a token back; a few spare for failures
    if len(tokens) < size * (args.runs + 1):
        print(f"  refresh: only {len(tokens)} refresh tokens, too few for every run", flush=True)
        return None
    pools = [tokens[i * size : (i + 1) * size] for i in range(args.runs + 1)]

    def runs() -> Iterator[Measurement]:
        run_wrk(wrk, server, refresh_scenario(client, pools[0], path), args.connections, 2)
        for pool in pools[1:]:
            scenario = refresh_scenario(client, pool, path)
            yield run_wrk(wrk, server, scenario, args.connections, args.seconds)

    return runs()


# The grown side's warm-up requests every spread tenant at least this many times: each request
# lands on one of two workers, so after k cycles a worker has yet to see ~1 tenant in 2^k.
WARM_CYCLES = 10
SETTLED = 0.95  # a warm-up run within 5% of the one before (or dearer): no first reads left
WARM_LIMIT_SECONDS = 600


def tenants_row(
    backend: Backend,
    server: Server,
    clients: Provisioned,
    args: argparse.Namespace,
    wrk: str,
    tuning: dict[str, str],
) -> report.TenantsRow:
    """The 1-tenant database (the one the other rows use) against a second database of the
    same kind grown to TENANTS tenants, each served by its own server with the same settings,
    alternately (bench/tenants.py explains the fixture and the request)."""
    with SETUPS[backend.name]() as grown:
        provision(grown)
        started = time.monotonic()
        bulk = grow(grown, TENANTS - 1)
        print(f"  grew a database to {TENANTS:,} tenants in {time.monotonic() - started:.0f} s")
        spread = bulk[: args.tenant_spread]
        one = spread_scenario("tenants_1", "1 tenant", one_tenant(clients.es256))
        many = spread_scenario("tenants_many", f"{TENANTS:,} tenants", spread)
        with serve(grown, tuning, args.server) as grown_server:
            request_once(grown_server, many)
            warm_up = warm(wrk, grown_server, many, args, len(spread))
            ones, manys = alternate(
                load(wrk, server, one, args), load(wrk, grown_server, many, args)
            )
            rss = grown_server.worker_rss_mb()
            check_log(grown_server)
    row = report.TenantsRow(median_run(ones), median_run(manys), TENANTS, len(spread), rss, warm_up)
    print_row(report.Row(row.one, None))
    print_row(report.Row(row.many, None))
    print(f"  {'tenants':12} ratio per CPU-s {row.ratio:.2f}", flush=True)
    return row


def warm(
    wrk: str, server: Server, scenario: Scenario, args: argparse.Namespace, spread: int
) -> report.WarmUp:
    """Load until the server is warm, as a long-running one would be: every spread tenant asked
    for at least WARM_CYCLES times, and then until a run costs the server no less CPU per
    request than the run before it (within SETTLED). A worker's first request for a tenant
    reads it, its client and its key ring, and parses a key; with two workers, four requests
    per tenant still left some tenant unseen by some worker for ~1 in 16 tenants, whose first
    reads then landed in the measured runs (ten: ~1 in 1,000). What the warm-up took is
    reported apart: it is the cost of a cold start."""
    requests, cpu_seconds, started = 0, 0.0, time.monotonic()
    previous = None
    while True:
        if time.monotonic() - started > WARM_LIMIT_SECONDS:
            print(f"  warm-up stopped after {WARM_LIMIT_SECONDS} s", flush=True)
            break
        m = run_wrk(wrk, server, scenario, args.connections, max(args.warmup, 5))
        requests, cpu_seconds = requests + m.requests, cpu_seconds + m.cpu_seconds
        per_request = m.cpu_seconds / max(m.requests, 1)
        settled = previous is not None and per_request >= previous * SETTLED
        if requests >= WARM_CYCLES * spread and settled:
            break
        previous = per_request
    warm_up = report.WarmUp(requests, time.monotonic() - started, cpu_seconds)
    print(
        f"  warm-up of the grown side: {requests:,} requests in {warm_up.seconds:.0f} s, "
        f"{cpu_seconds:.1f} server CPU-seconds",
        flush=True,
    )
    return warm_up


def reference_token(reference: Reference) -> str:
    """A live opaque access token of the reference's opaque client, for its introspection."""
    request = Scenario(
        "opaque", "", "/token", 0, "grant_type=client_credentials",
        {"Authorization": basic(reference.opaque), "Content-Type": FORM},
    )  # fmt: skip
    return str(request_once(reference.server, request)["access_token"])


def print_row(row: report.Row) -> None:
    for who, m in (("ours", row.ours), ("reference", row.reference)):
        if m is None:
            continue
        print(
            f"  {m.scenario.name:12} {who:9} {m.rate:8,.0f} req/s  "
            f"{m.rate_per_cpu_second:8,.0f}/CPU-s  p50 {m.p50_ms:6.2f} ms  "
            f"p99 {m.p99_ms:6.2f} ms  non-200 {m.not_200 + m.socket_errors}  "
            f"runs/CPU-s {m.runs_text}",
            flush=True,
        )
    if row.ratio is not None:
        print(f"  {row.ours.scenario.name:12} ratio per CPU-s {row.ratio:.2f}", flush=True)


def median_run(runs: list[Measurement]) -> Measurement:
    """The run with the median req per CPU-second (what the ratios and shares are made of),
    carrying every run's: this VM's speed drifts by ±15 % between runs of the same build
    (bench/RESULTS.md), so one run proves little, and another VM's load on the host moves req/s
    more than it moves req per CPU-second. Every run's errors count: any non-200 in any run
    makes the row invalid."""
    ordered = sorted(runs, key=lambda run: run.rate_per_cpu_second)
    median = ordered[(len(ordered) - 1) // 2]
    return replace(
        median,
        not_200=sum(run.not_200 for run in runs),
        socket_errors=sum(run.socket_errors for run in runs),
        per_cpu_second_runs=tuple(run.rate_per_cpu_second for run in runs),
    )


def check_log(server: Server) -> None:
    """A traceback in the server log means some request failed inside: say so loudly."""
    log = server.log.read_text(errors="replace")
    if "Traceback" in log:
        print(f"  WARNING: the server logged a traceback:\n{log[-4000:]}", file=sys.stderr)


def reference_node(args: argparse.Namespace, skipped: list[str]) -> str | None:
    """node, with the reference installed; None (and why, in RESULTS.md) when it cannot be."""
    if args.no_reference:
        return None
    try:
        return install()
    except ReferenceUnavailable as error:
        print(f"reference skipped: {error}", flush=True)
        skipped.append(f"node-oidc-provider: not measured ({error}).")
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    wrk = ensure_wrk()
    names = list(SETUPS) if args.setup == "all" else [args.setup]
    results: list[report.SetupResult] = []
    skipped: list[str] = []
    node = reference_node(args, skipped)
    for name in names:
        print(f"{name}:", flush=True)
        try:
            with SETUPS[name]() as backend:
                results.append(measure(backend, args, wrk, node))
        except BackendUnavailable as error:
            print(f"  skipped: {error}", flush=True)
            skipped.append(f"{name}: not measured ({error}).")
    if str(args.output) != "-":
        given = sys.argv[1:] if argv is None else argv
        command = "make bench"
        if given:
            command = shlex.join([".venv/bin/python", "-m", "bench.run", *given])
        report.write(args.output, results, command, skipped, node)
        print(f"wrote {os.path.relpath(args.output)}")
    if not all(result.valid for result in results):
        print("INVALID: some responses were not 200; see the tables.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
