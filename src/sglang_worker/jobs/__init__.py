"""The RunPod job face: job shapes (``input``), the SDK handler (``handler``), the output and
error contract (``output``), the cancel tie between a job's task and its outputs (``task``),
and ``--test_input`` runs (``local_run``). Entry point: ``Worker``."""

from sglang_worker.jobs.handler import Worker

__all__ = ["Worker"]
