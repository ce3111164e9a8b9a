"""Running a plan for real: the link emulator's accuracy, and `edgeplan run --local` on a 3-stage plan."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time

import pytest

from planner_app.agent.linkemu import LinkEmulator
from planner_app.cli import main
from planner_app.core.execute import ExecutionError, execution_spec
from planner_app.core.plans.records import load_plan
from planner_app.core.resources import sample_topology_paths

HOME = str(sample_topology_paths()["smart_home"])


def _echo_server() -> socket.socket:
    """A TCP server: reads an 8-byte header (n up, m back), n bytes, answers m bytes (1 if 0)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def handle(c: socket.socket) -> None:
        with c:
            while hdr := c.recv(8, socket.MSG_WAITALL):
                up, back = int.from_bytes(hdr[:4], "little"), int.from_bytes(hdr[4:], "little")
                got = 0
                while got < up:
                    got += len(c.recv(min(1 << 16, up - got)))
                c.sendall(b"x" * (back or 1))

    def serve() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_the_link_emulator_imposes_latency_and_bandwidth_within_10_percent():
    srv = _echo_server()
    try:
        with LinkEmulator(srv.getsockname(), latency_ms=20, forward_mbps=40, backward_mbps=80) as link:
            s = socket.create_connection(("127.0.0.1", link.port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def round_trip_ms(up: int, back: int) -> float:
                t0 = time.perf_counter()
                s.sendall(up.to_bytes(4, "little") + back.to_bytes(4, "little") + bytes(up))
                want, got = back or 1, 0
                while got < want:
                    got += len(s.recv(1 << 16))
                return (time.perf_counter() - t0) * 1e3

            rtt = statistics.median(round_trip_ms(0, 0) for _ in range(5))
            up = statistics.median(round_trip_ms(500_000, 0) for _ in range(3))
            down = statistics.median(round_trip_ms(0, 500_000) for _ in range(3))
            s.close()
    finally:
        srv.close()
    assert rtt == pytest.approx(40, rel=0.1)  # 20 ms each way
    assert up - rtt == pytest.approx(500_000 * 8 / 40e6 * 1e3, rel=0.1)  # 100 ms at 40 Mbps
    assert down - rtt == pytest.approx(500_000 * 8 / 80e6 * 1e3, rel=0.1)  # 50 ms at 80 Mbps back


def test_relays_whose_routes_cross_one_link_share_its_bandwidth():
    """Two routes over one directed link (two relays given the same LinkDirection): sent together, their bits
    cross it one after the other, as the cost model has them; a relay of its own does not wait."""
    from planner_app.agent.linkemu import LinkDirection

    srv = _echo_server()

    def up_ms(port: int, size: int, out: list[float], go: threading.Barrier) -> None:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        go.wait()
        t0 = time.perf_counter()
        s.sendall(size.to_bytes(4, "little") + (0).to_bytes(4, "little") + bytes(size))
        s.recv(1)
        out.append((time.perf_counter() - t0) * 1e3)
        s.close()

    try:
        shared = LinkDirection(40)
        with LinkEmulator(srv.getsockname(), latency_ms=5, forward_mbps=40, forward_shared=[shared]) as a, \
                LinkEmulator(srv.getsockname(), latency_ms=5, forward_mbps=40, forward_shared=[shared]) as b, \
                LinkEmulator(srv.getsockname(), latency_ms=5, forward_mbps=40) as own:
            for ports, label in (((a.port, b.port), "shared"), ((a.port, own.port), "apart")):
                got: list[float] = []
                go = threading.Barrier(2)
                threads = [threading.Thread(target=up_ms, args=(p, 250_000, got, go)) for p in ports]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                alone = 5 + 250_000 * 8 / 40e6 * 1e3  # 5 ms + 50 ms of bits, and 5 ms back
                if label == "shared":  # the later one waited for the other's 50 ms of bits
                    assert max(got) == pytest.approx(alone + 5 + 50, rel=0.1), got
                else:
                    assert max(got) == pytest.approx(alone + 5, rel=0.1), got
                time.sleep(0.1)
    finally:
        srv.close()


@pytest.fixture(scope="module")
def three_stage_plan(tmp_path_factory):
    from planner_app.core.planning import MeasureOptions, PoseOptions, plan_deployment

    out = tmp_path_factory.mktemp("plan") / "plan.json"
    s = plan_deployment(HOME, "hub-keyword-spotting", measure=MeasureOptions(levels=("fp32",)),
                        pose=PoseOptions(levels=("fp32",), slo_ms=None,
                                         pinned_units={0: "hub", 2: "home-server", 3: "cloud-cpu"}), out=out)
    assert [st.device for st in s.plan.stages] == ["hub", "home-server", "cloud-cpu"]
    return out


def test_run_local_reproduces_the_model_and_reports_prediction_against_measurement(three_stage_plan, tmp_path, capsys):
    report_path = tmp_path / "run.json"
    code = main(["run", str(three_stage_plan), "--local", "--requests", "8", "--warmup", "2", "--quiet",
                 "--out", str(report_path)])
    out = capsys.readouterr().out
    assert code == 0
    rep = json.loads(report_path.read_text())
    assert rep["requests"] == 8
    # where the plan puts a cut codec on a hop, the outputs differ from the plain chain by its error, boundedly
    codecs = {t.codec for t in load_plan(three_stage_plan).transfers if t.from_stage is not None and t.to_stage is not None}
    if codecs - {"none"}:
        assert any("encoded with the plan's codec" in n for n in rep["notes"])
        assert 0 < rep["output_max_rel_diff_vs_local_chain"] < 0.02
    else:
        assert rep["output_max_abs_diff_vs_local_chain"] == 0.0
    assert [s["device"] for s in rep["stages"]] == ["hub", "home-server", "cloud-cpu"]
    assert all(s["measured_compute_ms_median"] > 0 for s in rep["stages"])
    # the home-server → cloud hop carries the WAN's latency both ways: the emulator is in the path
    wan = next(h for h in rep["hops"] if h["to"] == "cloud-cpu")
    assert wan["measured_round_trip_ms_median"] >= 2 * wan["latency_ms"] * 0.9
    assert rep["error_pct"]["latency_median"] is not None
    assert "latency ms (median, wall)" in out and "compute per stage" in out and "error %" in out
    # both clocks, and every measured median with its interval
    assert rep["clock"]["predicted"] == load_plan(three_stage_plan).measurement.clock == "thread-cpu"
    lo, hi = rep["measured"]["latency_ms_ci95"]
    assert lo <= rep["measured"]["latency_ms_median"] <= hi
    assert 0 < rep["measured"]["latency_cpu_compute_ms_median"] <= rep["measured"]["latency_ms_median"]
    assert rep["error_pct"]["latency_median_cpu_compute"] is not None
    assert rep["predicted"]["latency_interval_ms"][0] <= rep["predicted"]["latency_ms"]
    assert all(s["measured_compute_ms_ci95"] and s["predicted_interval_ms"] for s in rep["stages"])
    assert "measured.latency_ms_*" in rep["provenance"] and "clock: predicted in thread-cpu" in out
    # the results go to the workload's consumer (the hub), as the plan assumes: the run's path is the plan's
    plan = load_plan(three_stage_plan)
    assert plan.workload.consumer in (None, "hub")
    results = rep["hops"][-1]
    assert results["results"] and (results["from"], results["to"]) == ("cloud-cpu", "hub")
    assert results["predicted_one_way_ms"] == max(t.transfer_ms for t in plan.transfers if t.to_stage is None)
    assert "the consumer 'hub'" in rep["measured"]["latency_to"]
    assert rep["predicted_as_run"]["latency_ms"] == pytest.approx(rep["predicted"]["latency_ms"], rel=0.01)
    # every hop timed one way, at least its emulated latency; the request at least all of them
    for h in rep["hops"]:
        assert h["measured_one_way_ms_median"] >= 0.9 * h["latency_ms"]
    assert rep["measured"]["latency_ms_median"] >= 0.9 * sum(h["measured_one_way_ms_median"] for h in rep["hops"])
    # the mechanism's per-message overhead is measured and reported beside the plan's assumption
    assert rep["message_overhead_measured"]["message_overhead_ms"] > 0
    assert any("`edgeplan agent calibrate`" in n for n in rep["notes"])
    # the plan's devices are slower than this host (estimated from their datasheets): their stages are slowed to
    # the predicted speed by time dilation, and the report says so
    emu = rep["speed_emulation"]
    assert emu["method"] == "time dilation" and len(emu["added_ms"]) == 3 and any(x > 0 for x in emu["added_ms"])
    for st, added, host in zip(rep["stages"], emu["added_ms"], emu["host_compute_ms"], strict=True):
        if added > 0:
            assert added == pytest.approx(st["predicted_compute_ms"] - host, abs=1e-3)
            # the agent's own per-call overhead (a fraction of a ms on this shared host) comes on top
            assert st["predicted_compute_ms"] * 0.9 < st["measured_compute_cpu_ms_median"] < st["predicted_compute_ms"] + 1.0
            assert f"stage {st['index']} on {st['device']}: x" in rep["notes"][0]


def test_a_plan_whose_parts_changed_does_not_run(three_stage_plan, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(three_stage_plan.parent, copy)
    part = sorted((copy / "parts").glob("*.onnx"))[0]
    part.write_bytes(part.read_bytes() + b"\0")
    with pytest.raises(ExecutionError, match="does not hash to the plan's sha256"):
        execution_spec(copy / "plan.json")


def test_run_with_agents_names_devices_without_an_agent(three_stage_plan, tmp_path, capsys):
    m = tmp_path / "agents.json"
    m.write_text(json.dumps({"hub": {"url": "http://127.0.0.1:9"}}))
    assert main(["run", str(three_stage_plan), "--agents", str(m), "--quiet"]) == 2
    assert "['cloud-cpu', 'home-server'], which have no agent" in capsys.readouterr().err


def test_a_branched_plan_runs_as_dataflow_as_it_is_predicted(tmp_path):
    """A transformer's attention branches pinned to three devices: branches run on different devices at the
    same time, and each tensor goes straight from its producer to every device that reads it."""
    from planner_app.agent.plan_runner import run_local
    from planner_app.core.models import load_model
    from planner_app.core.planning import MeasureOptions, PoseOptions, plan_deployment

    mg = load_model("sample:transformer_encoder")
    out = tmp_path / "plan" / "plan.json"
    # every unit pinned (the placement is fixed whatever the profile): layer 1's query, key and value
    # projections on the hub and the two clouds, the rest on the home server
    pins = {u: "home-server" for u in range(len(mg.units))} | {11: "hub", 12: "cloud-cpu", 13: "cloud-gpu"}
    s = plan_deployment(HOME, "doorbell-person-detection", model=mg, measure=MeasureOptions(levels=("fp32",)),
                        pose=PoseOptions(levels=("fp32",), slo_ms=None, pinned_units=pins), out=out)
    spec = execution_spec(out)
    # the plan is a DAG: a stage's outputs go to several devices, and a stage reads from several
    senders = [m.from_stage for m in spec.messages if m.from_stage is not None and not m.results]
    readers = [m.to_stage for m in spec.messages if not m.results]
    assert len(senders) > len(set(senders)) and len(readers) > len(set(readers))
    # both clouds' messages leave the home server up its one uplink: the later waits there, in the plan and
    # in the emulated link; the plan's figures re-derive, queueing included
    from planner_app.core.plans.check import validate_plan

    assert any(m.queue_ms > 0 for m in spec.messages if m.to_device.startswith("cloud"))
    assert validate_plan(out, check_chain=False).problems == []
    rep = run_local(spec, requests=6, warmup=2, measure_overhead=False)
    # every message of the plan was timed, one way, at least its emulated latency
    assert [h["key"] for h in rep["hops"]] == [m.key for m in spec.messages]
    for h in rep["hops"]:
        assert h["measured_one_way_ms_median"] >= 0.9 * h["latency_ms"], h
    # the run reproduces the whole model, within the cut codecs' error
    assert rep["output_max_rel_diff_vs_local_chain"] is not None and rep["output_max_rel_diff_vs_local_chain"] < 0.05
    # executed as dataflow, not one part after another: the request took well under the sum of its stages'
    # compute and its messages' one-way times (running the parts in turn, relaying the tensors, cannot)
    in_turn = sum(st["measured_compute_ms_median"] for st in rep["stages"]) + sum(
        h["measured_one_way_ms_median"] for h in rep["hops"])
    assert rep["measured"]["latency_ms_median"] < 0.8 * in_turn
    predicted = s.plan.totals.latency_ms
    # the prediction re-assembled along the plan's dataflow is the plan's latency
    assert rep["predicted_as_run"]["latency_ms"] == pytest.approx(predicted, rel=0.01)
    assert rep["error_pct"]["latency_median"] is not None and "dataflow" in rep["execution"]
