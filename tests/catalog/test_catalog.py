from __future__ import annotations

import pytest

from gpuwise.catalog import NUMERIC_FIELDS, get_accelerator, load_catalog, parse_gpu_spec
from gpuwise.errors import GpuwiseError

REQUIRED = [
    "K80", "P100", "V100-16GB", "V100-32GB", "T4", "A10", "A100-40GB", "A100-80GB", "A800",
    "H100-SXM", "H100-PCIe", "H800", "H200", "H20", "L40S", "L20", "RTX4090", "Ascend910B",
]


def test_required_entries_present() -> None:
    names = load_catalog().names()
    for name in REQUIRED:
        assert name in names


def test_every_number_has_a_source() -> None:
    for acc in load_catalog().accelerators:
        for field in NUMERIC_FIELDS:
            if getattr(acc, field) is not None:
                assert acc.source_of(field), f"{acc.name}.{field} has no source"


@pytest.mark.parametrize(
    ("name", "dense_bf16", "sparse_bf16"),
    [("H100-SXM", 989.4, 1979), ("A100-80GB", 312, 624), ("L40S", 362.1, 733),
     ("H800", 989.4, 1979), ("A10", 125, 250)],
)
def test_dense_not_sparse_peaks(name: str, dense_bf16: float, sparse_bf16: float) -> None:
    acc = get_accelerator(name)
    assert acc.bf16_tflops == pytest.approx(dense_bf16, rel=0.01)
    assert acc.bf16_tflops is not None and acc.bf16_tflops < 0.6 * sparse_bf16


def test_dense_peaks_are_consistent_across_precisions() -> None:
    # On every chip, FP8/INT8 dense is at most 2x BF16 dense (a 4x ratio means a sparse
    # figure slipped in), and FP32 (non-tensor) never exceeds half precision.
    for acc in load_catalog().accelerators:
        half = acc.dense_bf16_tflops
        if acc.fp8_tflops is not None:
            assert acc.fp8_tflops <= 2.05 * half, acc.name
        assert acc.fp32_tflops <= half, acc.name


def test_export_editions_name_their_original_and_cut() -> None:
    editions = {a.name: a for a in load_catalog().accelerators if a.export_edition}
    assert {"A800", "H800", "H20", "L20"} <= set(editions)
    for acc in editions.values():
        original = get_accelerator(acc.export_of or "")
        assert acc.export_cuts
        # An export edition must be cut somewhere: link or compute.
        assert (acc.interconnect_gbs < original.interconnect_gbs
                or acc.dense_bf16_tflops < original.dense_bf16_tflops)
    assert editions["A800"].interconnect_gbs == 200  # 400 GB/s bidirectional
    assert get_accelerator("A100-80GB").interconnect_gbs == 300


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("NVIDIA H800", "H800"), ("H800-SXM5-80GB", "H800"), ("h800", "H800"),
     ("A100-80GB", "A100-80GB"), ("A100-40GB", "A100-40GB"), ("H100-SXM", "H100-SXM"),
     ("H100-PCIe", "H100-PCIe"), ("V100", "V100-16GB"), ("K80", "K80"),
     ("NVIDIA H100 80GB HBM3", "H100-SXM"), ("NVIDIA A100-SXM4-80GB", "A100-80GB"),
     ("NVIDIA-A100-SXM4-40GB", "A100-40GB"), ("Tesla V100-SXM2-32GB", "V100-32GB"),
     ("Tesla P100-PCIE-16GB", "P100"), ("Tesla T4", "T4"), ("NVIDIA GeForce RTX 4090", "RTX4090"),
     ("NVIDIA L20", "L20"), ("NVIDIA H20", "H20"), ("V100M32", "V100-32GB")],
)
def test_aliases(spelling: str, canonical: str) -> None:
    assert get_accelerator(spelling).name == canonical


def test_unknown_accelerator_suggests_nearest() -> None:
    with pytest.raises(GpuwiseError, match=r"unknown accelerator 'H900'.*H800"):
        get_accelerator("H900")


def test_gpu_spec_shorthand() -> None:
    assert parse_gpu_spec("64xA800") == [(64, "A800")]
    assert parse_gpu_spec("36xV100,36xP100,36xK80") == [
        (36, "V100-16GB"), (36, "P100"), (36, "K80")]
    assert parse_gpu_spec("8 x NVIDIA H20") == [(8, "H20")]
    with pytest.raises(GpuwiseError, match="at least 1"):
        parse_gpu_spec("0xA800")
    with pytest.raises(GpuwiseError, match="did you mean"):
        parse_gpu_spec("8xA8000")
