"""bench/RESULTS.md: one table per set-up, the machine, and how to reproduce the run.

Everything below the NOTES marker is written by people (what was changed and what it bought) and
is kept when the file is regenerated.
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench import reference
from bench.capacity import CONCURRENCY, PEOPLE, SignIns
from bench.load import Measurement
from bench.server import PasswordCost

NOTES = "<!-- Hand-written notes below this line are kept when bench.run regenerates the file. -->"
RSS_TARGET_MB = 100
PASSWORD_TARGET_MS = 50  # DESIGN §6: one argon2id verification on one core
RATIO_TARGET = 1.5  # issue 12: ours per server CPU-second over node-oidc-provider's
SHARE_TARGET = 0.8  # issue 12: sign-ins per CPU-second x one password verification
TENANTS_TARGET = 0.95  # issue 12: the grown database over the 1-tenant one, per CPU-second
RS256_ROWS = frozenset({"token_rs256"})  # bounded by one RSA-2048 signature per request
PACKAGES = (
    "gunicorn",
    "granian",
    "flask",
    "authlib",
    "joserfc",
    "sqlalchemy",
    "psycopg",
    "cryptography",
)


@dataclass(frozen=True)
class Row:
    """One request: ours and, when measured, node-oidc-provider's, alternately in one run."""

    ours: Measurement
    reference: Measurement | None

    @property
    def ratio(self) -> float | None:
        """Ours over the reference, per server CPU-second (what one core of each serves)."""
        if self.reference is None or not self.reference.rate_per_cpu_second:
            return None
        return self.ours.rate_per_cpu_second / self.reference.rate_per_cpu_second

    @property
    def valid(self) -> bool:
        return self.ours.valid and (self.reference is None or self.reference.valid)


@dataclass(frozen=True)
class WarmUp:
    """The load a server took to become warm (bench/run.py `warm`)."""

    requests: int
    seconds: float
    cpu_seconds: float  # the server's


@dataclass(frozen=True)
class TenantsRow:
    """ES256 client credentials tokens: the 1-tenant database against the grown one, served
    alternately in one run (bench/tenants.py)."""

    one: Measurement  # the `bench` tenant of the 1-tenant database
    many: Measurement  # `spread` tenants of the grown database, in turn
    tenants: int  # in the grown database
    spread: int  # how many of them the load cycles through
    many_rss_mb: list[float]  # the grown database's server's workers, after the load
    warm_up: WarmUp  # the grown side's, before the measured runs: its cold start

    @property
    def ratio(self) -> float:
        """The grown database over the 1-tenant one, per server CPU-second."""
        one = self.one.rate_per_cpu_second
        return self.many.rate_per_cpu_second / one if one else 0.0

    @property
    def valid(self) -> bool:
        return self.one.valid and self.many.valid


@dataclass(frozen=True)
class SetupResult:
    title: str
    server: str
    workers: int
    threads: int
    connections: int
    seconds: int
    runs: int
    rows: list[Row]
    floor: Measurement  # the trivial WSGI app under the same server, same run
    sign_ins: SignIns | None
    refresh: Row | None
    worker_rss_mb: list[float]
    load_average: str  # of the whole machine before the run: other work skews the figures
    rsa_sign_ms: tuple[float, float]  # one RSA-2048 signature on CPU 0, before and after
    password_cost: PasswordCost  # the shipped argon2id cost, timed on CPU 0 after the load
    tenants: TenantsRow | None = None
    # node-oidc-provider's sign-ins through its development pages: no password to hash
    reference_sign_ins: SignIns | None = None

    @property
    def valid(self) -> bool:
        refresh_valid = self.refresh is None or self.refresh.valid
        tenants_valid = self.tenants is None or self.tenants.valid
        return (
            self.floor.valid
            and refresh_valid
            and tenants_valid
            and all(row.valid for row in self.rows)
        )

    @property
    def rsa_limit(self) -> float:
        """RSA-2048 signatures per second on CPU 0, the slower of the two timings."""
        return 1000 / max(self.rsa_sign_ms)

    def limit(self, name: str) -> float:
        """The most a core could serve of this request: the server's floor, and for an RS256
        token also one signature each."""
        floor = self.floor.rate_per_cpu_second
        return min(floor, self.rsa_limit) if name in RS256_ROWS else floor


def reference_line(node: str | None) -> str:
    if node is None:
        return "not measured"
    return (
        f"node-oidc-provider {reference.version()} on Node.js {reference.node_version(node)}, "
        "NODE_ENV=production, its in-memory adapter with a 500,000-entry store "
        "(bench/reference/server.mjs)"
    )


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    packages = ", ".join(f"{name} {version(name)}" for name in PACKAGES)
    return (
        f"{model}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {packages}; {wrk.stdout.split(' [')[0].strip()}"
    )


def table(result: SetupResult) -> list[str]:
    lines = [
        f"### {result.title}",
        "",
        f"Ours: {result.workers} {result.server} worker{'s' if result.workers != 1 else ''} x "
        f"{result.threads} threads, all on "
        f"CPU 0; node-oidc-provider: one node process on CPU 0; wrk on CPU 1 with "
        f"{result.connections} keep-alive connections for {result.seconds} s per run, "
        f"{result.runs} runs per row and server after a warm-up run, alternately ours and the "
        "reference; each figure is the run with the median req per CPU-second, and *runs* lists "
        "every run's req per CPU-second. "
        f"Load average before the run: {result.load_average}; one RSA-2048 signature on CPU 0 "
        f"took {result.rsa_sign_ms[0]:.2f} ms before and {result.rsa_sign_ms[1]:.2f} ms after "
        f"({result.rsa_limit:,.0f} signatures/s at the slower). The server's floor (a trivial "
        f"WSGI app under the same {result.server} settings, same run): "
        f"{result.floor.rate_per_cpu_second:,.0f} req per CPU-second "
        f"(runs {result.floor.runs_text} per CPU-second).",
        "",
        "| Request | ours req/s | ours req per CPU-s | reference req/s | reference req per CPU-s "
        "| ratio | physical limit per CPU-s | share of limit | ours p50 / p99 ms | non-200 "
        "| verdict | runs ours, per CPU-s | runs reference, per CPU-s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|---|",
    ]
    for row in result.rows:
        m, ref = row.ours, row.reference
        limit = result.limit(m.scenario.name)
        errors = m.not_200 + m.socket_errors + (ref.not_200 + ref.socket_errors if ref else 0)
        lines.append(
            f"| {m.scenario.title} | {m.rate:,.0f} | {m.rate_per_cpu_second:,.0f} | "
            f"{f'{ref.rate:,.0f}' if ref else '-'} | "
            f"{f'{ref.rate_per_cpu_second:,.0f}' if ref else '-'} | "
            f"{f'{row.ratio:.2f}' if row.ratio is not None else '-'} | {limit:,.0f} | "
            f"{m.rate_per_cpu_second / limit:.0%} | {m.p50_ms:.2f} / {m.p99_ms:.2f} | {errors} | "
            f"{row_verdict(row)} | {m.runs_text} | {ref.runs_text if ref else '-'} |"
        )
    lines += signature_ceiling_lines(result)
    rss = result.worker_rss_mb
    worst = max(rss) if rss else 0.0
    verdict = "met" if worst <= RSS_TARGET_MB else "MISSED"
    lines += [
        "",
        f"Worker RSS after the load (VmRSS): {', '.join(f'{mb:.1f}' for mb in rss)} MB "
        f"(largest {worst:.1f} MB, target <= {RSS_TARGET_MB} MB: {verdict}).",
        "",
        password_line(result.password_cost),
        "",
        *human_lines(result),
        *tenants_lines(result.tenants),
    ]
    return lines


def signature_ceiling_lines(result: SetupResult) -> list[str]:
    """What the signature alone allows an RS256 row against the reference in this run: a server
    doing nothing else would serve `rsa_limit` a CPU-second, so no server can beat that ratio,
    and 1.5x leaves this much CPU a token for everything but the signature."""
    lines = []
    for row in result.rows:
        ref = row.reference
        if row.ours.scenario.name not in RS256_ROWS or ref is None:
            continue
        signature_ms = 1000 / result.rsa_limit
        reference_ms = 1000 / ref.rate_per_cpu_second
        budget_ms = reference_ms / RATIO_TARGET - signature_ms
        budget = (
            f"{RATIO_TARGET}x leaves {budget_ms:.2f} ms a token for everything else"
            if budget_ms > 0
            else f"{RATIO_TARGET}x is beyond even that server"
        )
        lines += [
            "",
            f"{row.ours.scenario.title}, at the physical limit: a server doing nothing but "
            f"the signature ({signature_ms:.2f} ms, the slower timing) would reach "
            f"{result.rsa_limit / ref.rate_per_cpu_second:.2f}x the reference; {budget}, "
            f"where the reference spends {reference_ms - signature_ms:.2f} ms beyond the "
            f"signature and ours {1000 / row.ours.rate_per_cpu_second - signature_ms:.2f} ms.",
        ]
    return lines


def tenants_lines(row: TenantsRow | None) -> list[str]:
    """The grown database against the 1-tenant one (bench/tenants.py)."""
    if row is None:
        return []
    one, many = row.one, row.many
    verdict = (
        "INVALID"
        if not row.valid
        else "met"
        if row.ratio >= TENANTS_TARGET
        else f"MISSED (target {TENANTS_TARGET}x)"
    )
    rss = ", ".join(f"{mb:.1f}" for mb in row.many_rss_mb)
    return [
        f"A {row.tenants:,}-tenant database against a 1-tenant one (client credentials, ES256 "
        f"access token, Basic; a second server with the same settings on a second database, "
        f"alternately with the first; the load cycles through {row.spread:,} tenants' clients "
        f"and token URLs): 1 tenant {one.rate:,.0f} req/s, "
        f"{one.rate_per_cpu_second:,.0f} per server CPU-second, p50 {one.p50_ms:.2f} ms, p99 "
        f"{one.p99_ms:.2f} ms, runs per CPU-second {one.runs_text}; {row.tenants:,} tenants "
        f"{many.rate:,.0f} req/s, {many.rate_per_cpu_second:,.0f} per server CPU-second, p50 "
        f"{many.p50_ms:.2f} ms, p99 {many.p99_ms:.2f} ms, runs per CPU-second {many.runs_text}; "
        f"non-200 {one.not_200 + one.socket_errors + many.not_200 + many.socket_errors}; ratio "
        f"{row.ratio:.2f}: {verdict}. Worker RSS of the {row.tenants:,}-tenant server after "
        f"the load: {rss} MB. Its warm-up before the measured runs (a cold start: each "
        f"worker's first requests for each tenant read it, its client and its key ring): "
        f"{row.warm_up.requests:,} requests in {row.warm_up.seconds:.0f} s, "
        f"{row.warm_up.cpu_seconds:.1f} server CPU-seconds.",
        "",
    ]


def human_lines(result: SetupResult) -> list[str]:
    """The sign-in capacity against the hash's limit, and the refresh grant."""
    signed_in, refresh = result.sign_ins, result.refresh
    if signed_in is None:
        return []
    verify = result.password_cost.verify_ms
    share = signed_in.per_cpu_second * verify / 1000
    beyond = 1000 / signed_in.per_cpu_second - verify if signed_in.per_cpu_second else 0.0
    lines = [
        f"Full browser sign-ins (authorize, login form with CSRF, consent, code exchange; "
        f"{CONCURRENCY} browsers at a time over {PEOPLE} people, raw HTTP on CPU 1): "
        f"{signed_in.count} in {signed_in.seconds:.1f} s, {signed_in.rate:.1f}/s, "
        f"{signed_in.per_cpu_second:.1f} per server CPU-second, {signed_in.failures} failed. "
        f"Share of the hash limit (sign-ins per CPU-second x {verify:.1f} ms): {share:.2f} "
        f"(target {SHARE_TARGET}: {'met' if share >= SHARE_TARGET else 'MISSED'}); our own CPU "
        f"beyond the hash: {beyond:.1f} ms per sign-in.",
        "",
    ]
    theirs = result.reference_sign_ins
    if theirs is not None and theirs.per_cpu_second:
        lines += [
            f"node-oidc-provider's sign-ins through its development login and consent pages "
            f"(the same browsers and steps; any login is accepted, so no password is hashed): "
            f"{theirs.count} in {theirs.seconds:.1f} s, {theirs.per_cpu_second:.1f} per server "
            f"CPU-second, {1000 / theirs.per_cpu_second:.1f} ms of CPU each, "
            f"{theirs.failures} failed. A share of {SHARE_TARGET} allows ours "
            f"{verify / SHARE_TARGET - verify:.1f} ms beyond the hash.",
            "",
        ]
    if refresh is not None:
        m, ref = refresh.ours, refresh.reference
        # Each refresh signs two RS256 JWTs (the access token and the ID token); the
        # reference signs one (the ID token: its access tokens here are opaque).
        limit = result.rsa_limit / 2
        theirs_line = (
            f"node-oidc-provider {ref.rate:,.0f} req/s, {ref.rate_per_cpu_second:,.0f} per "
            f"CPU-second (runs per CPU-second {ref.runs_text}, non-200 "
            f"{ref.not_200 + ref.socket_errors}); "
            f"ratio {refresh.ratio:.2f}: {row_verdict(refresh)}. At the physical limit (a "
            f"server doing nothing but the two signatures) the ratio would be "
            f"{limit / ref.rate_per_cpu_second:.2f}."
            if ref is not None and refresh.ratio is not None
            else "node-oidc-provider not measured."
        )
        lines += [
            f"Refresh grant (rotation, each token sent once, wrk as above): ours "
            f"{m.rate:,.0f} req/s, {m.rate_per_cpu_second:,.0f} per server CPU-second, p50 "
            f"{m.p50_ms:.2f} ms, p99 {m.p99_ms:.2f} ms, non-200 "
            f"{m.not_200 + m.socket_errors}, runs per CPU-second {m.runs_text}; physical limit "
            f"{limit:,.0f} per CPU-second (two RSA-2048 signatures a refresh: the access "
            f"token and the ID token), share {m.rate_per_cpu_second / limit:.0%}; {theirs_line}",
            "",
        ]
    return lines


def row_verdict(row: Row) -> str:
    if not row.valid:
        return "INVALID"
    if row.ratio is None:
        return "no reference"
    return "met" if row.ratio >= RATIO_TARGET else f"MISSED (target {RATIO_TARGET}x)"


def password_line(cost: PasswordCost) -> str:
    verdict = "met" if cost.verify_ms <= PASSWORD_TARGET_MS else "MISSED"
    return (
        f"One argon2id password verification at the shipped cost (m={cost.memory_kib} KiB, "
        f"t={cost.time_cost}, p={cost.parallelism}) on CPU 0: {cost.verify_ms:.1f} ms, median "
        f"of 21 (target <= {PASSWORD_TARGET_MS} ms: {verdict})."
    )


def write(
    path: Path, results: list[SetupResult], command: str, skipped: list[str], node: str | None
) -> None:
    kept = ""
    if path.exists():
        _, marker, kept = path.read_text().partition(NOTES)
        kept = kept if marker else ""
    lines = [
        "# Benchmark results",
        "",
        "Generated by `bench/run.py`; see bench/README.md. Per server core: each server is pinned",
        "to CPU 0, the load generator to CPU 1, over loopback. *req per CPU-second* (requests /",
        "the server processes' CPU time during the run) is what a core of its own would serve;",
        "*ratio* is ours over node-oidc-provider's, per CPU-second (target 1.5). *Share of",
        "limit*: ours per CPU-second over the physical limit measured in the same run (the",
        "trivial WSGI app under the same server; for RS256 tokens also RSA-2048 signatures/s).",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        f"- Reference: {reference_line(node)}",
        f"- Reproduce: `{command}`",
        "",
    ]
    for result in results:
        lines += table(result)
    lines += [f"{reason}\n" for reason in skipped]
    path.write_text("\n".join(lines) + "\n" + NOTES + (kept or "\n"))
