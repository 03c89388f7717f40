#!/usr/bin/env python3
"""Run several servers through several scenarios, interleaved, R rounds; compare medians.

    .venv/bin/python bench/compare.py [--scenarios echo,fanout] [--servers node,ours-daphne]
                                      [--rounds 3] [--out results/x.jsonl] [--markdown x.md]

Each round runs every scenario on every server once, the server order rotating from
round to round, so that a noisy neighbour or a warming machine does not favour one
server. Every run's JSON line is appended to --out as it finishes. At the end it prints,
per scenario and server, the medians over the rounds and the ratios of CPU per unit of
work to Node's socket.io and to python-socketio under uvicorn, as JSON lines
({"summary": ...}) and as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench

DEFAULT_SCENARIOS = ("echo", "fanout", "connect", "polling", "fanout2")
# fanout2 needs the servers' Redis support: Node's redis adapter, python-socketio's
# AsyncRedisManager, our channels-redis layer. django-sio works too (--servers).
FANOUT2_SERVERS = ("node", "pysio-uvicorn", "ours-daphne", "ours-uvicorn")
BASELINES = {"node": "node", "pysio": "pysio-uvicorn"}
MEDIANS = (
    "cpu_per_unit",
    "rate",
    "p50_ms",
    "p99_ms",
    "delivery_p50_ms",
    "delivery_p99_ms",
    "rss_per_conn_kb",
    "rss_kb",
    "server_util",
    "cpu_s",
    "loadgen_cpu_s",
    "redis_cpu_s",
    "cpu_per_unit_with_redis",
)


def servers_for(scenario: str, chosen: list[str] | None) -> list[str]:
    if chosen:
        return list(chosen)
    return list(FANOUT2_SERVERS if scenario == "fanout2" else bench.SERVERS)


def median(values: list[Any]) -> float | None:
    vals = [v for v in values if isinstance(v, int | float)]
    return round(statistics.median(vals), 4) if vals else None


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        by.setdefault((r["scenario"], r["server"]), []).append(r)
    rows = []
    for (scenario, server), runs in by.items():
        ok = [r for r in runs if not r.get("error")]
        row: dict[str, Any] = {
            "summary": True,
            "scenario": scenario,
            "server": server,
            "runs": len(runs),
            "runs_ok": len(ok),
            "unit": ok[0].get("cpu_per_unit_label") if ok else None,
            "rate_unit": ok[0].get("rate_unit") if ok else None,
            "params": runs[0].get("params"),
        }
        for key in MEDIANS:
            m = median([r.get(key) for r in ok])
            if m is not None:
                row[key] = m
        row["cpu_per_unit_all"] = [r.get("cpu_per_unit") for r in ok]
        row["lost_max"] = max((r.get("lost") or 0 for r in ok), default=None)
        row["lost_total"] = sum(r.get("lost") or 0 for r in ok)
        if any("late" in r for r in ok):
            row["late_total"] = sum(r.get("late") or 0 for r in ok)
            row["saturated_runs"] = sum(1 for r in ok if r.get("saturated"))
        row["errors"] = sum(r.get("errors") or 0 for r in ok)
        row["tracebacks"] = sum(r.get("tracebacks") or 0 for r in ok)
        failures = [r["error"] for r in runs if r.get("error")]
        if failures:
            row["failures"] = failures
        rows.append(row)
    index = {(r["scenario"], r["server"]): r for r in rows}
    for row in rows:
        for name, base in BASELINES.items():
            ref = index.get((row["scenario"], base))
            mine, theirs = row.get("cpu_per_unit"), ref and ref.get("cpu_per_unit")
            if mine and theirs:
                row[f"cpu_vs_{name}"] = round(mine / theirs, 2)
            mine_r, theirs_r = row.get("rate"), ref and ref.get("rate")
            if mine_r and theirs_r:
                row[f"rate_vs_{name}"] = round(mine_r / theirs_r, 2)
    order = {s: i for i, s in enumerate(DEFAULT_SCENARIOS)}
    server_order = {s: i for i, s in enumerate(bench.SERVERS)}
    rows.sort(key=lambda r: (order.get(r["scenario"], 99), server_order.get(r["server"], 99)))
    return rows


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def markdown(rows: list[dict[str, Any]]) -> str:
    out = []
    scenarios = []
    for r in rows:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    for scenario in scenarios:
        mine = [r for r in rows if r["scenario"] == scenario]
        unit = next((r["unit"] for r in mine if r.get("unit")), "cpu per unit")
        rate_unit = next((r["rate_unit"] for r in mine if r.get("rate_unit")), "")
        params = mine[0].get("params") or {}
        shown = ", ".join(f"{k}={v}" for k, v in params.items() if k != "processes" or v != 1)
        out.append(f"### {scenario} ({shown})\n")
        fan = scenario.startswith("fanout")
        head = [
            "server",
            unit.replace("cpu_s_per_", "CPU-s per ").replace("_", " "),
            "x Node",
            "x pysio-uvicorn",
            rate_unit,
            "p50 ms",
            "p99 ms",
        ]
        if fan:
            head += ["delivery p50 ms", "delivery p99 ms"]
        if scenario == "fanout2":
            head += ["redis CPU-s"]
        head += ["lost"]
        if fan:
            head += ["late", "saturated runs"]
        head += ["RSS/conn KiB", "server util", "runs ok"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for r in mine:
            cells = [
                r["server"],
                _fmt(r.get("cpu_per_unit"), 3),
                _fmt(r.get("cpu_vs_node")),
                _fmt(r.get("cpu_vs_pysio")),
                _fmt(r.get("rate"), 0),
                _fmt(r.get("p50_ms"), 1),
                _fmt(r.get("p99_ms"), 1),
            ]
            if fan:
                cells += [_fmt(r.get("delivery_p50_ms"), 1), _fmt(r.get("delivery_p99_ms"), 1)]
            if scenario == "fanout2":
                cells += [_fmt(r.get("redis_cpu_s"))]
            cells += [_fmt(r.get("lost_total"))]
            if fan:
                cells += [_fmt(r.get("late_total")), _fmt(r.get("saturated_runs"))]
            cells += [
                _fmt(r.get("rss_per_conn_kb"), 1),
                _fmt(r.get("server_util")),
                f"{r['runs_ok']}/{r['runs']}",
            ]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    ap.add_argument("--servers", help=f"comma-separated, of: {', '.join(bench.SERVERS)}")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", type=Path, help="append every run's JSON line here")
    ap.add_argument("--markdown", type=Path, help="write the Markdown table here")
    ap.add_argument("--budget", type=float, help="seconds: start no run after this")
    ap.add_argument("--from-file", type=Path, help="only summarize these JSON lines")
    for key in bench.PARAMS:
        ap.add_argument(f"--{key}", type=float if key in ("duration", "warmup", "hold") else int)
    args = ap.parse_args(argv)

    if args.from_file:
        records = [json.loads(ln) for ln in args.from_file.read_text().splitlines() if ln.strip()]
        records = [r for r in records if not r.get("summary") and r.get("scenario") != "check"]
    else:
        records = []
        scenarios = [s for s in args.scenarios.split(",") if s]
        chosen = [s for s in (args.servers or "").split(",") if s] or None
        overrides = {k: getattr(args, k) for k in bench.PARAMS}
        started = time.monotonic()
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
        plan = []
        for rnd in range(args.rounds):
            for scenario in scenarios:
                servers = servers_for(scenario, chosen)
                shift = rnd % len(servers)
                plan += [(rnd, scenario, server) for server in servers[shift:] + servers[:shift]]
        for i, (rnd, scenario, server) in enumerate(plan):
            if args.budget and time.monotonic() - started > args.budget:
                print(
                    f"budget of {args.budget:.0f} s spent: {len(plan) - i} runs skipped",
                    file=sys.stderr,
                )
                break
            params = bench.scenario_params(scenario, args.smoke, overrides)
            record = bench.run(server, scenario, params, smoke=args.smoke)
            record["round"] = rnd + 1
            records.append(record)
            if args.out:
                with args.out.open("a") as f:
                    f.write(json.dumps(record) + "\n")
            print(
                f"[round {rnd + 1}/{args.rounds} {time.monotonic() - started:5.0f} s] "
                f"{scenario:8} {server:14} "
                + (
                    f"ERROR {record['error']}"
                    if record.get("error")
                    else f"{record.get('cpu_per_unit')} {record.get('cpu_per_unit_label')}"
                    f"  {record.get('rate')} {record.get('rate_unit')}"
                    f"  p50 {record.get('p50_ms')} ms  lost {record.get('lost')}"
                ),
                file=sys.stderr,
                flush=True,
            )
    rows = summarize(records)
    for row in rows:
        print(json.dumps(row))
    commits = sorted({r["git"]["commit"] for r in records if r.get("git", {}).get("commit")})
    dirty = any(r.get("git", {}).get("dirty") for r in records)
    stamps = sorted(r["ts"] for r in records if r.get("ts"))
    header = (
        f"Runs: {len(records)}"
        + (f", {stamps[0]} to {stamps[-1]}" if stamps else "")
        + (f", commit {', '.join(commits)}" if commits else "")
        + (" (django_socketio had uncommitted changes)" if dirty else "")
        + ". Medians over the rounds; x Node and x pysio-uvicorn: CPU per unit of work"
        " divided by theirs (lower is better).\n\n"
    )
    table = header + markdown(rows)
    print()
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
