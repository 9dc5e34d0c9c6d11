"""The SGLang engine: its process (``server``: launch, readiness, death watch, stop), the HTTP
client the pipeline calls it through (``client``), its event stream (``events``), its flags from the
environment (``flags``, validated in the engine process by ``launcher``), the launch facts decided
once at start-up (``launch_plan``: extra args, revision, media processor config), where its model
comes from (``model_source``; on a CPU without one, the tiny test model ``make models`` built),
the served model's own files (``model_files``), the hub check before a download
(``preflight``), which start-up failures a restart will not fix and what both modes do about
them (``start_failure``), the hub causes both word alike (``hub_causes``), and the masking of
secrets in its output (``redaction``).

Entry points: ``launch_engine`` (an ``Engine`` and its ``EngineInfo``), ``EngineClient`` and
``EngineRequest``.
"""

from sglang_worker.engine.client import EngineClient, EngineRequest
from sglang_worker.engine.server import Engine, EngineInfo, engine_port, launch_engine

__all__ = ["Engine", "EngineClient", "EngineInfo", "EngineRequest", "engine_port",
           "launch_engine"]
