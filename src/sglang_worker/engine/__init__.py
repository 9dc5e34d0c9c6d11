"""The SGLang engine: its process (``server``: launch, readiness, death watch, stop), the HTTP
client the pipeline calls it through (``client``), its SSE stream (``sse``), its flags from the
environment (``flags``, validated in the engine process by ``launcher``), where its model comes
from (``model_source``; on a CPU without one, the tiny test model ``make models`` built), the
hub check before a download (``preflight``), which start-up failures a restart will not fix
(``start_failure``), and the masking of secrets in its output (``redaction``).

Entry points: ``launch_engine`` (an ``Engine`` and its ``EngineInfo``), ``EngineClient`` and
``EngineRequest``.
"""

from sglang_worker.engine.client import EngineClient, EngineRequest
from sglang_worker.engine.server import Engine, EngineInfo, engine_port, launch_engine

__all__ = ["Engine", "EngineClient", "EngineInfo", "EngineRequest", "engine_port",
           "launch_engine"]
