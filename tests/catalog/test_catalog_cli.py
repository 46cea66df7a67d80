from __future__ import annotations

from collections.abc import Callable

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def test_catalog_json_contract(cli: Cli) -> None:
    res = cli("catalog", "--json")
    assert res.code == 0
    rows = res.json()
    keys = {"name", "memory_gib", "bf16_tflops", "fp8_tflops", "mem_bw_gbs", "interconnect_gbs",
            "tdp_w", "export_edition", "sources"}
    assert all(keys <= set(r) for r in rows)
    h20 = next(r for r in rows if r["name"] == "H20")
    assert h20["export_edition"] is True and h20["mem_bw_gbs"] == 4000


def test_catalog_table_and_show(cli: Cli) -> None:
    res = cli("catalog")
    assert res.code == 0 and "H800" in res.out and "Ascend910B" in res.out
    res = cli("catalog", "show", "H20")
    assert res.code == 0
    assert "Export-control edition of H100-SXM" in res.out
    assert "[1]" in res.out


def test_catalog_show_unknown_is_one_line(cli: Cli) -> None:
    res = cli("catalog", "show", "H900")
    assert res.code == 2
    assert res.err.strip().count("\n") == 0
    assert "did you mean" in res.err and "Traceback" not in res.err
