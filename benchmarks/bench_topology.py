"""Benchmark: load + validate + routes for generated topologies.

Targets (issue #2): 1,000 devices with 3,000 links load and validate in under
0.5 s; all routes from one source in under 50 ms.

Run: ``.venv/bin/python benchmarks/bench_topology.py``
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner_app.commands._table import format_table  # noqa: E402
from planner_app.core.topology.catalog import load_catalog  # noqa: E402
from planner_app.core.topology.io import load_topology, save_topology  # noqa: E402
from planner_app.core.topology.records import Topology, Workload  # noqa: E402


def generate(n_devices: int, links_per_device: int = 3, seed: int = 0) -> Topology:
    """A connected topology of catalog devices: a random tree plus extra random links."""
    rng = random.Random(seed)
    cat = load_catalog()
    devices = [
        rng.choice(cat.devices).make_device(f"d{i}", x=rng.uniform(0, 5000), y=rng.uniform(0, 5000))
        for i in range(n_devices)
    ]
    links = []
    for i in range(1, n_devices):  # spanning tree keeps it connected
        links.append(rng.choice(cat.links).make_link(f"l{len(links)}", f"d{rng.randrange(i)}", f"d{i}"))
    while len(links) < links_per_device * n_devices:
        a, b = rng.sample(range(n_devices), 2)
        links.append(rng.choice(cat.links).make_link(f"l{len(links)}", f"d{a}", f"d{b}"))
    return Topology(name=f"gen-{n_devices}", devices=devices, links=links,
                    workloads=[Workload(name="w", source="d0", rate_rps=10)])


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10, 100, 1000):
            topo = generate(n)
            path = save_topology(topo, Path(tmp) / f"t{n}.json")
            load_min, load_med = best_of(lambda p=path: load_topology(p))
            loaded = load_topology(path)
            r0_min, r0_med = best_of(lambda t=loaded: t.routes_from("d0", 0), 7)
            r1_min, r1_med = best_of(lambda t=loaded: t.routes_from("d0", 150_000), 7)
            rows.append([n, len(topo.links), path.stat().st_size // 1024, load_med * 1e3,
                         r0_med * 1e3, r1_med * 1e3, len(loaded.routes_from("d0", 150_000))])  # fmt: skip
    print(format_table(
        ["devices", "links", "file KB", "load+validate ms", "routes (0 B) ms", "routes (150 kB) ms", "reachable"],
        rows, title="Topology load, validation and routing (median of 5-7 runs)"))  # fmt: skip
    big = rows[-1]
    print(f"\ntargets: load+validate 1,000 devices < 500 ms: {big[3]:.0f} ms "
          f"({'met' if big[3] < 500 else 'MISSED'}); all routes from one source < 50 ms: "
          f"{big[5]:.1f} ms ({'met' if big[5] < 50 else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
