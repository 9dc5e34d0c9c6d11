"""The local RunPod endpoint's own settings (``make serve``): its variables, in one model.

Contract:
- Each field is one environment variable, ``LOCAL_ENDPOINT_`` and the field name upper-cased
  (``port`` is ``LOCAL_ENDPOINT_PORT``), with its default and a description. The README's
  table of the local endpoint's variables is generated from this model and a test keeps the
  two equal. An empty variable counts as unset, as in the worker's settings.
- These are development variables: none is on the RunPod Hub's form, and the deployed worker's
  settings (``sglang_worker.settings``) neither hold nor import them. The worker that the local
  endpoint starts reads its own settings from the same environment.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "LOCAL_ENDPOINT_"


class LocalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False,
                                      extra="ignore", frozen=True, env_ignore_empty=True)

    port: int = Field(
        8000, ge=1, le=65535, description="Port of the local RunPod endpoint (`make serve`) on "
        "127.0.0.1; `make serve PORT=...` (`--port`) overrides it."
    )
    runsync_wait_s: float = Field(
        90.0, gt=0, description="How long the local endpoint's /runsync waits for its job "
        "before answering IN_PROGRESS with the job id (RunPod's default); a request's "
        "`?wait=<ms>` (1000 to 300000) overrides it."
    )
    execution_timeout_s: float = Field(
        600.0, ge=0, description="A local job that runs longer is stopped and marked "
        "TIMED_OUT (RunPod's default execution timeout). 0: no limit."
    )
    stop_timeout_s: float = Field(
        30.0, gt=0, description="On SIGTERM/SIGINT the local endpoint gives its worker this "
        "long to finish the jobs in flight before it kills it (a second Ctrl-C kills at once)."
    )


if __name__ == "__main__":
    from sglang_worker.settings import markdown_table

    print(markdown_table(LocalSettings, hub=False))
