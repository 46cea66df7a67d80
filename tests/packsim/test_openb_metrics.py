"""openb loaders (good and malformed files), arrivals, and the step-averaging of curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpuwise.errors import GpuwiseError
from gpuwise.packsim.experiment import arrivals
from gpuwise.packsim.metrics import step_means
from gpuwise.packsim.openb import load_nodes, load_pods
from tests.conftest import DATA

OPENB = DATA / "openb"
POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"


def test_load_real_files() -> None:
    nodes = load_nodes(OPENB / "openb_node_list_gpu_node.csv")
    pods = load_pods(OPENB / "openb_pod_list_default.csv")
    assert len(nodes) == 1213 and sum(n.gpu_count for n in nodes) == 6212
    assert len(pods) == 8152
    assert sum(p.is_share for p in pods) == 3078


def _write(tmp_path: Path, text: str, name: str = "pods.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(("body", "message"), [
    ("p0,1000,10,1,500,\np1,abc,10,0,0,\n",
     "pods.csv:3: cpu_milli: expected an integer, got 'abc'"),
    ("p0,1000,10,2,500,\n", "pods.csv:2: gpu_milli: a pod with 2 GPUs takes whole GPUs"),
    ("p0,1000,10,0,300,\n", "pods.csv:2: gpu_milli: must be 0 when num_gpu is 0"),
    ("p0,1000,10,1,1500,\n", "pods.csv:2: gpu_milli: expected 0..1000, got 1500"),
    ("p0,1000,10,1\n", "pods.csv:2: expected 6 fields"),
])
def test_malformed_pods_name_the_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(GpuwiseError) as exc:
        load_pods(_write(tmp_path, POD_HEADER + body))
    assert message in str(exc.value)


def test_missing_column_and_gpu_spec(tmp_path: Path) -> None:
    with pytest.raises(GpuwiseError, match="missing column 'num_gpu'.*did you mean num_gpus"):
        load_pods(_write(tmp_path, "name,cpu_milli,memory_mib,num_gpus,gpu_milli\n"))
    pods = load_pods(_write(tmp_path, POD_HEADER + "p0,1000,10,1,500,V100M16|V100M32|V100M32\n"))
    assert pods[0].gpu_models == frozenset({"V100M16", "V100M32"})
    with pytest.raises(GpuwiseError, match="nodes.csv:2: model: a node with 2 GPUs needs"):
        load_nodes(_write(tmp_path, "sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,2,\n",
                          "nodes.csv"))


def test_arrivals_reach_tune_and_depend_only_on_seed() -> None:
    pods = load_pods(OPENB / "openb_pod_list_default.csv")
    cap = 6212 * 1000
    a = arrivals(pods, cap, 1.3, np.random.default_rng(7))
    b = arrivals(pods, cap, 1.3, np.random.default_rng(7))
    total = sum(p.total_gpu_milli for p in a)
    assert a == b and 1.29 * cap < total <= 1.3 * cap
    assert len(a) > len(pods)
    down = arrivals(pods, cap, 0.5, np.random.default_rng(7))
    assert sum(p.total_gpu_milli for p in down) <= 0.5 * cap


def test_step_means_round_half_even_and_fallback() -> None:
    pct = np.array([0.2, 0.5, 1.5, 2.4, 4.6])
    vals = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
    out = step_means(pct, vals, np.arange(0, 6))
    # rint: 0.2->0, 0.5->0, 1.5->2, 2.4->2, 4.6->5; step 1 and 3 fall back to +-1 windows
    assert out.tolist() == [2.0, 4.0, 6.0, 6.0, 9.0, 9.0]
