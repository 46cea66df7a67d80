from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuwise.errors import GpuwiseError
from gpuwise.fleet import load_fleet, summarize
from tests.conftest import DATA, REPO

OPENB = DATA / "fleet" / "openb_node_list_gpu_node.csv"


def test_openb_node_list_totals() -> None:
    totals = summarize(load_fleet(OPENB))
    assert totals.nodes == 1213 and totals.gpus == 6212
    by_type = {t.gpu_type: t.gpus for t in totals.by_type}
    assert by_type == {"G2": 4392, "T4": 842, "G3": 312, "P100": 265, "V100-32GB": 204,
                       "V100-16GB": 195, "A10": 2}
    g2 = next(t for t in totals.by_type if t.gpu_type == "G2")
    assert not g2.known and g2.bf16_pflops is None


def test_openb_keeps_raw_model_name() -> None:
    fleet = load_fleet(OPENB)
    v100 = next(n for n in fleet.nodes if n.gpu_type == "V100-32GB")
    assert v100.labels["model"] == "V100M32"
    assert set(fleet.opaque_types) == {"G2", "G3"}


def test_demo_fleet_expands_groups() -> None:
    fleet = load_fleet(REPO / "examples" / "fleet-demo.yaml")
    names = [n.name for n in fleet.nodes]
    assert "h800-00" in names and "a800-07" in names and "h800-spare" in names
    a800 = [n for n in fleet.nodes if n.gpu_type == "A800"]
    assert len(a800) == 8 and all(n.gpus == 8 for n in a800)
    spare = next(n for n in fleet.nodes if n.name == "h800-spare")
    assert spare.state == "drained" and not spare.schedulable
    assert all(n.nvlink_domain == n.name for n in fleet.nodes if n.gpu_type == "H800")
    assert all(n.nvlink_domain is None for n in fleet.nodes if n.gpu_type == "L20")
    h800 = next(n for n in fleet.nodes if n.gpu_type == "H800")
    assert h800.cpu_milli == 192_000 and h800.memory_mib == 2048 * 1024
    assert h800.labels["zone"] == "bj-a" and h800.network_gbps == 400


def test_nvidia_smi_folder() -> None:
    fleet = load_fleet(REPO / "examples" / "nvidia-smi")
    by_host = {n.name: n for n in fleet.nodes}
    assert by_host["gpu-a01"].gpu_type == "H800" and by_host["gpu-a01"].gpus == 8
    assert by_host["ws-07"].gpu_type == "RTX4090" and by_host["ws-07"].gpus == 2
    assert by_host["old-box"].gpu_type == "V100-32GB"
    assert by_host["old-box"].gpu_memory_mib == 32768


def test_nvidia_smi_unknown_model_is_opaque(tmp_path: Path) -> None:
    host = tmp_path / "lab1.csv"
    host.write_text("index, uuid, name, memory.total [MiB]\n0, GPU-x, Mystery X9, 65536 MiB\n")
    fleet = load_fleet(host)
    assert fleet.opaque_types == ("Mystery X9",)
    totals = summarize(fleet)
    assert totals.by_type[0].memory_gib == 64.0 and totals.by_type[0].bf16_pflops is None


def test_kubectl_nodes() -> None:
    fleet = load_fleet(REPO / "examples" / "kubectl-nodes.json")
    by_name = {n.name: n for n in fleet.nodes}
    assert by_name["gpu-node-1"].gpu_type == "A800" and by_name["gpu-node-1"].gpus == 8
    assert by_name["gpu-node-1"].cpu_milli == 128_000
    assert by_name["gpu-node-1"].memory_mib == 1056457868 // 1024
    assert by_name["gpu-node-2"].state == "drained"
    assert by_name["cpu-node-1"].state == "down" and by_name["cpu-node-1"].gpu_type is None


def test_shorthand() -> None:
    fleet = load_fleet("36xV100,36xP100,36xK80")
    assert fleet.total_gpus == 108
    assert max(n.gpus for n in fleet.nodes) == 8
    assert len(load_fleet("16xH800", gpus_per_node=4).nodes) == 4


# ---- bad input: one clear error naming file, line and field --------------------------------

def _yaml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "fleet.yaml"
    p.write_text(text)
    return p


def test_yaml_unknown_accelerator_names_line_and_field(tmp_path: Path) -> None:
    p = _yaml(tmp_path, "name: x\nnodes:\n  - name: a\n    gpus: 8 x H800\n"
                        "  - name: b\n    gpus: 8 x H900\n")
    with pytest.raises(GpuwiseError) as err:
        load_fleet(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:6: nodes[1].gpus: unknown accelerator 'H900'")
    assert "H800" in msg and "H200" in msg


def test_yaml_unknown_field(tmp_path: Path) -> None:
    p = _yaml(tmp_path, "nodes:\n  - name: a\n    gpus: 8 x H800\n    cpus: 64\n")
    with pytest.raises(GpuwiseError, match=r"fleet.yaml:4: nodes\[0\].cpus: unknown field"
                                           r" \(did you mean cpu"):
        load_fleet(p)


def test_yaml_bad_count_and_shape(tmp_path: Path) -> None:
    p = _yaml(tmp_path, "nodes:\n  - name: a\n    count: 0\n    gpus: 8 x H800\n")
    with pytest.raises(GpuwiseError, match=r"fleet.yaml:3: nodes\[0\].count"):
        load_fleet(p)
    p = _yaml(tmp_path, "nodes:\n  - name: a\n    gpus: eight H800\n")
    with pytest.raises(GpuwiseError, match=r"fleet.yaml:3: nodes\[0\].gpus: expected 'N x TYPE'"):
        load_fleet(p)
    p = _yaml(tmp_path, "nodes:\n  - name: a\n    total: 12 x H800\n    gpus_per_node: 8\n"
                        "    count: 2\n")
    with pytest.raises(GpuwiseError, match="do not split"):
        load_fleet(p)
    p = _yaml(tmp_path, "nodes:\n  - name: a\n    gpus: 8 x H800\n    memory: lots\n")
    with pytest.raises(GpuwiseError, match=r"fleet.yaml:4: nodes\[0\].memory: expected a memory"):
        load_fleet(p)


def test_yaml_syntax_error_and_empty(tmp_path: Path) -> None:
    p = _yaml(tmp_path, "nodes:\n  - name: a\n    gpus: [8 x H800\n")
    with pytest.raises(GpuwiseError, match=r"fleet.yaml:\d+: not valid YAML"):
        load_fleet(p)
    p = _yaml(tmp_path, "name: x\n")
    with pytest.raises(GpuwiseError, match=r"nodes: Field required"):
        load_fleet(p)


def test_yaml_opaque_types_allowed(tmp_path: Path) -> None:
    p = _yaml(tmp_path, "opaque_types: [G9]\nnodes:\n  - name: a\n    count: 2\n"
                        "    gpus: 4 x G9\n")
    fleet = load_fleet(p)
    assert fleet.total_gpus == 8 and fleet.opaque_types == ("G9",)


def test_openb_malformed_rows(tmp_path: Path) -> None:
    p = tmp_path / "nodes.csv"
    p.write_text("sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,64000,x,2,P100\n")
    with pytest.raises(GpuwiseError, match=r"nodes.csv:3: memory_mib: expected a whole number"):
        load_fleet(p)
    p.write_text("sn,cpu_milli,memory,gpu,model\nn0,64000,262144,2,P100\n")
    with pytest.raises(GpuwiseError, match=r"nodes.csv:1: missing column 'memory_mib'"):
        load_fleet(p)
    p.write_text("sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,\n")
    with pytest.raises(GpuwiseError, match=r"nodes.csv:2: model"):
        load_fleet(p)


def test_nvidia_smi_malformed(tmp_path: Path) -> None:
    d = tmp_path / "hosts"
    d.mkdir()
    (d / "h1.csv").write_text("index, uuid, name, memory.total [MiB]\n0, GPU-a, NVIDIA H20\n")
    with pytest.raises(GpuwiseError, match=r"h1.csv:2: expected 4 fields, got 3"):
        load_fleet(d)


def test_kubectl_malformed(tmp_path: Path) -> None:
    p = tmp_path / "nodes.json"
    p.write_text('{"items": [\n  {"metadata": {"name": "n1"},\n')
    with pytest.raises(GpuwiseError, match=r"nodes.json:\d+: not valid JSON"):
        load_fleet(p)
    doc = {"items": [{"metadata": {"name": "n1", "labels": {}},
                      "status": {"capacity": {"nvidia.com/gpu": "8"}}}]}
    p.write_text(json.dumps(doc))
    with pytest.raises(GpuwiseError, match=r"items\[0\].metadata.labels: .*gpu.product"):
        load_fleet(p)


def test_missing_source() -> None:
    with pytest.raises(GpuwiseError, match="not an NxTYPE shorthand"):
        load_fleet("no-such-fleet.yaml")
