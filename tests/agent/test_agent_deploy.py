"""Deploying on agents: results delivered to a consumer, codecs on the way in, time dilation, the
per-message calibration, agents named by the topology, and TLS forwarding with a private CA."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from planner_app.agent.client import AgentClient, AgentError, topology_agents
from planner_app.cli import main
from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology.io import load_topology, topology_from_dict
from tests.agent.conftest import TOKEN, start_agent

HOME = sample_topology_paths()["smart_home"]


def _run(model, feed):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)


def test_results_are_delivered_to_the_consumer_and_timed_one_way(agent, lstm_parts):
    mg, parts = lstm_parts
    x = np.random.default_rng(2).standard_normal((1, 98, 40)).astype(np.float32)
    with AgentClient(agent.url, TOKEN) as c:
        s0, s1 = (c.upload_part(p.model.SerializeToString(), p.name) for p in parts)
        deliver = {"url": agent.url, "token": TOKEN, "deliver": True, "keep": ["logits"], "echo": True}
        out, timings = c.infer(s0, {"mfcc": x}, forward=[{"url": agent.url, "part": s1, "token": TOKEN}, deliver])
        # without echo the consumer keeps the results: nothing comes back but the timings
        quiet, _ = c.infer(s0, {"mfcc": x}, forward=[{"url": agent.url, "part": s1, "token": TOKEN},
                                                     {**deliver, "echo": False}])
        ms = c.deliver({"logits": out["logits"]})
    np.testing.assert_allclose(out["logits"], _run(mg.model, {"mfcc": x})[0], rtol=1e-4, atol=1e-5)
    assert quiet == {}
    s0_t, s1_t, got = timings
    assert got["deliver"] and got["tensors"] == ["logits"]
    # one clock on one host: the stamps follow the request's path in order
    assert timings[0]["sent_at"] <= s0_t["ready_at"] <= s0_t["done_at"] <= s1_t["ready_at"] <= s1_t["done_at"]
    assert s1_t["done_at"] <= got["received_at"]
    assert 0 < ms < 1000


def test_the_input_crosses_with_a_codec_and_a_stage_is_dilated(agent, lstm_parts):
    mg, parts = lstm_parts
    x = np.random.default_rng(3).standard_normal((1, 98, 40)).astype(np.float32)
    with AgentClient(agent.url, TOKEN) as c:
        s0 = c.upload_part(parts[0].model.SerializeToString(), parts[0].name)
        plain, _ = c.infer(s0, {"mfcc": x})
        coded, _ = c.infer(s0, {"mfcc": x}, codec="fp16")
        slow, [t] = c.infer(s0, {"mfcc": x}, slow_ms=5.0)
        with pytest.raises(AgentError, match="422|slow_ms"):
            c.infer(s0, {"mfcc": x}, slow_ms=-1.0)  # only slower: a faster device cannot be emulated
    name = next(iter(plain))
    # fp16 on the way in changes the outputs a little, not much
    assert not np.array_equal(plain[name], coded[name])
    np.testing.assert_allclose(coded[name], plain[name], rtol=0.05, atol=5e-3)
    np.testing.assert_array_equal(slow[name], plain[name])
    assert t["slow_ms"] == 5.0
    # the sleep adds 5 ms to the call; its CPU time is reported as the emulated device's (the 5 ms included)
    assert t["compute_ms"] >= t["host_compute_ms"] + 5.0 and 5.0 < t["compute_cpu_ms"] < t["compute_ms"] + 0.5


def test_calibrate_writes_the_message_overhead_into_a_topology(tmp_path, capsys):
    out = tmp_path / "home.local.json"
    assert main(["agent", "calibrate", "--topology", str(HOME), "--out", str(out), "--messages", "6",
                 "--payload-kb", "4", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "one message through the link relay" in text and "calibrated topology written" in text
    topo = load_topology(out)
    figure = topo.message_overhead_ms
    assert 0 < figure < 100 and all(lk.message_overhead_ms == figure for lk in topo.links)
    assert "edgeplan agent calibrate" in topo.metadata["message_overhead_calibration"]
    assert main(["agent", "calibrate", "--topology", str(HOME)]) == 2
    assert "--topology and --out together" in capsys.readouterr().err
    # plans made with it charge that figure per message, before any run
    from planner_app.core.planning import MeasureOptions, PoseOptions, plan_deployment

    pins = {0: "hub", 2: "home-server", 3: "cloud-cpu"}
    made = [plan_deployment(str(t), "hub-keyword-spotting", measure=MeasureOptions(levels=("fp32",)),
                            pose=PoseOptions(levels=("fp32",), slo_ms=None, pinned_units=pins),
                            out=tmp_path / f"plan{i}" / "plan.json").plan
            for i, t in enumerate((HOME, out))]
    default = load_topology(HOME).message_overhead_ms
    pairs = [(a, b) for a, b in zip(made[0].transfers, made[1].transfers, strict=True)
             if (a.codec, a.route_links) == (b.codec, b.route_links)]
    # (the codec's encode and decode speeds are measured at each planning: a few µs of slack)
    per_link = {lk.id: lk.message_overhead_ms for lk in topo.links}
    assert pairs and all(b.transfer_ms - a.transfer_ms == pytest.approx(
        max(per_link[lid] for lid in b.route_links) - default, abs=0.02) for a, b in pairs)


def test_a_topology_names_its_agents_never_their_tokens(tmp_path, agent):
    doc = load_topology(HOME).to_dict()
    hub = next(d for d in doc["devices"] if d["id"] == "hub")
    hub["agent_token"] = "x" * 20
    with pytest.raises(Exception, match="never sits in the topology"):
        topology_from_dict(doc, "t")
    del hub["agent_token"]
    (tmp_path / "hub.token").write_text(TOKEN + "\n")
    hub.update(agent_url=agent.url, agent_token_file="hub.token")
    server = next(d for d in doc["devices"] if d["id"] == "home-server")
    server.update(agent_url=agent.url, agent_token_keyring=True)
    topo = topology_from_dict(doc, "t")
    with pytest.raises(AgentError, match="keyring"):  # installed or not, it holds no token for this URL
        topology_agents(topo, tmp_path)
    server["agent_token_keyring"] = False
    agents = topology_agents(topology_from_dict(doc, "t"), tmp_path)
    assert agents["hub"].token == TOKEN and agents["home-server"].token == ""
    with agents["hub"].client() as c:
        assert c.device()["name"] == "test-agent"


def test_a_token_in_the_os_keyring_reaches_the_agent(tmp_path, agent):
    """agent_token_keyring: the token comes from the keyring under (KEYRING_SERVICE, the agent's URL).
    A headless CI box has no OS keyring (no Secret Service, no Keychain): an in-memory backend stands
    in for it, through the real keyring package's API."""
    import keyring
    from keyring.backend import KeyringBackend

    from planner_app.agent.client import KEYRING_SERVICE

    class MemoryKeyring(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.store: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.store.pop((service, username), None)

    before = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        doc = load_topology(HOME).to_dict()
        server = next(d for d in doc["devices"] if d["id"] == "home-server")
        server.update(agent_url=agent.url, agent_token_keyring=True)
        with pytest.raises(AgentError, match=f"holds no token for {agent.url}.*keyring set {KEYRING_SERVICE}"):
            topology_agents(topology_from_dict(doc, "t"), tmp_path)
        keyring.set_password(KEYRING_SERVICE, agent.url, TOKEN)
        agents = topology_agents(topology_from_dict(doc, "t"), tmp_path)
        assert agents["home-server"].token == TOKEN
        with agents["home-server"].client() as c:
            assert c.device()["name"] == "test-agent"
    finally:
        keyring.set_keyring(before)


def test_a_missing_keyring_package_says_what_to_do(monkeypatch):
    import sys

    from planner_app.agent.client import keyring_token

    monkeypatch.setitem(sys.modules, "keyring", None)  # as if not installed
    with pytest.raises(AgentError, match="'keyring' package is not installed: `pip install keyring`"):
        keyring_token("http://127.0.0.1:9", "hub")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_agents_forward_to_each_other_with_a_ca_bundle(tmp_path, lstm_parts):
    mg, parts = lstm_parts
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = start_agent(tmp_path / "a", *tls, "--tls-ca", str(cert), scheme="https", verify=str(cert))
    b = start_agent(tmp_path / "b", *tls, scheme="https", verify=str(cert))
    x = np.random.default_rng(4).standard_normal((1, 98, 40)).astype(np.float32)
    try:
        with AgentClient(a.url, TOKEN, verify=str(cert)) as ca, AgentClient(b.url, TOKEN, verify=str(cert)) as cb:
            s0, s1 = ca.upload_part(parts[0].model.SerializeToString()), cb.upload_part(parts[1].model.SerializeToString())
            out, _ = ca.infer(s0, {"mfcc": x}, forward=[{"url": b.url, "part": s1, "token": TOKEN}])
            np.testing.assert_allclose(out["logits"], _run(mg.model, {"mfcc": x})[0], rtol=1e-4, atol=1e-5)
            # b trusts only the system's CAs: forwarding to a's self-signed certificate fails, clearly
            cb.upload_part(parts[0].model.SerializeToString())
            ca.upload_part(parts[1].model.SerializeToString())
            with pytest.raises(AgentError, match="502.*CERTIFICATE_VERIFY_FAILED|502.*certificate"):
                cb.infer(s0, {"mfcc": x}, forward=[{"url": a.url, "part": s1, "token": TOKEN}])
    finally:
        a.stop()
        b.stop()


def test_run_uses_the_agents_its_topology_names(tmp_path, capsys):
    """`edgeplan run PLAN --topology T.json`: the devices' agent_url and token files, no map (one agent process
    serves all three devices here: a device's agent may be any agent)."""
    from planner_app.core.planning import MeasureOptions, PoseOptions, plan_deployment

    out = tmp_path / "plan" / "plan.json"
    plan_deployment(str(HOME), "hub-keyword-spotting", measure=MeasureOptions(levels=("fp32",)),
                    pose=PoseOptions(levels=("fp32",), slo_ms=None, pinned_units={0: "hub", 3: "cloud-cpu"}), out=out)
    (tmp_path / "data").mkdir()
    a = start_agent(tmp_path / "data")
    try:
        doc = load_topology(HOME).to_dict()
        (tmp_path / "agent.token").write_text(TOKEN + "\n")
        for d in doc["devices"]:
            d.update(agent_url=a.url, agent_token_file="agent.token")
        topo_path = tmp_path / "home.agents.json"
        topo_path.write_text(json.dumps(doc))
        report = tmp_path / "run.json"
        assert main(["run", str(out), "--topology", str(topo_path), "--requests", "3", "--warmup", "1", "--quiet",
                     "--out", str(report)]) == 0
    finally:
        a.stop()
    rep = json.loads(report.read_text())
    assert rep["mode"] == "agents" and rep["requests"] == 3
    assert rep["output_max_abs_diff_vs_local_chain"] is not None
    assert "consumer" in rep["measured"]["latency_to"] or "last stage" in rep["measured"]["latency_to"]
    capsys.readouterr()
    (tmp_path / "bare.json").write_text(load_topology(HOME).model_dump_json())
    assert main(["run", str(out), "--topology", str(tmp_path / "bare.json"), "--quiet"]) == 2
    assert "names no agent" in capsys.readouterr().err


def test_optimize_agents_without_a_map_profiles_on_the_topologys_agents(tmp_path, agent, capsys):
    doc = load_topology(HOME).to_dict()
    (tmp_path / "hub.token").write_text(TOKEN + "\n")
    next(d for d in doc["devices"] if d["id"] == "hub").update(agent_url=agent.url, agent_token_file="hub.token")
    topo_path = tmp_path / "home.agents.json"
    topo_path.write_text(json.dumps(doc))
    out = tmp_path / "plan" / "plan.json"
    assert main(["optimize", "--topology", str(topo_path), "--workload", "hub-keyword-spotting", "--levels", "fp32",
                 "--agents", "--out", str(out), "--quiet"]) == 0
    from planner_app.core.plans.records import load_plan

    plan = load_plan(out)
    hub = [st for st in plan.stages if st.device == "hub"]
    assert hub and all(st.provenance == "measured-agent" for st in hub)
    capsys.readouterr()
    bare = tmp_path / "bare.json"
    bare.write_text(load_topology(HOME).model_dump_json())
    assert main(["optimize", "--topology", str(bare), "--workload", "hub-keyword-spotting", "--agents",
                 "--out", str(tmp_path / "p2" / "plan.json"), "--quiet"]) == 2
    assert "names no agent" in capsys.readouterr().err
