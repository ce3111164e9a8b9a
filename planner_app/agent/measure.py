"""Profiling a whole model on an agent so that planning can use the result.

The planner matches an agent profile to its model by the sha256 of the model's
file bytes and by unit names, so the agent must analyse the very same bytes:
:func:`profile_on_agent` uploads the file the model was loaded from (not a
re-serialization, whose hash would differ), passes the dynamic dimensions the
planner used, and checks the profile that comes back names the same model and
units. The result is an ordinary :class:`~planner_app.core.profiling.ModelProfile`
whose levels carry provenance ``measured-agent``; the command layer hands it to
the planning session (``MeasureOptions.agent_profiles``).

Example
-------
>>> with AgentClient(url, token) as agent:                                   # doctest: +SKIP
...     prof = profile_on_agent(agent, load_model("sample:lstm_kws"), ["fp32"])
"""

from __future__ import annotations

__all__ = ["profile_on_agent", "model_bytes"]

import hashlib
from collections.abc import Sequence
from dataclasses import asdict

from planner_app.agent.client import AgentClient, AgentError, ProgressFn
from planner_app.core.models import ModelGraph
from planner_app.core.profiling import ModelProfile, ProfileSettings


def model_bytes(mg: ModelGraph) -> bytes:
    """The bytes ``mg.sha256`` hashes: its file, which must still be the file that was loaded."""
    if mg.path is None:
        raise AgentError(f"model {mg.name} was not loaded from a file: save it as .onnx and load that file, "
                         "so the agent measures the same bytes the planner hashed")
    try:
        data = mg.path.read_bytes()
    except OSError as exc:
        raise AgentError(f"model file '{mg.path}' cannot be read ({exc.strerror}): it must stay in place while "
                         "the agent profiles it") from None
    if hashlib.sha256(data).hexdigest() != mg.sha256:
        raise AgentError(f"model file '{mg.path}' changed since it was loaded: load it again")
    return data


def profile_on_agent(client: AgentClient, mg: ModelGraph, levels: Sequence[str],
                     settings: ProfileSettings | None = None, progress: ProgressFn | None = None,
                     *, use_cache: bool = False) -> ModelProfile:
    """Upload ``mg`` to the agent, profile it at ``levels``, and return the checked profile."""
    settings = settings or ProfileSettings()
    if progress is not None:
        progress(0.0, f"uploading {mg.name} to {client.url}")
    sha = client.upload_part(model_bytes(mg), mg.name)
    s = asdict(settings)
    profile = client.profile(
        sha, list(levels), progress=progress, runs=s["runs"], warmup=s["warmup"], threads=s["threads"],
        max_seconds=s["max_seconds"], fidelity_samples=s["fidelity_samples"],
        shapes={k: list(v) for k, v in mg.inputs.items()} if mg.dynamic_dims else {}, use_cache=use_cache,
    )
    names = [u.name for u in mg.units]
    if profile.model_sha256 != mg.sha256 or (profile.unit_names and profile.unit_names != names):
        raise AgentError(f"agent {client.url} analysed {mg.name} into other units ({len(profile.unit_names)} vs "
                         f"{len(names)}): install the same planner_app version on the agent")
    profile.model_name = mg.name
    return profile
