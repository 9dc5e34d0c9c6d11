"""The RunPod job face: the queue worker's lifecycle (``serve``), job shapes (``input``), the
SDK handler (``handler``), the output and error contract (``output``), the cancel tie between a
job's task and its outputs (``task``), ``--test_input`` runs (``local_run``), and the handler
that fails every job with the cause while a worker whose engine could not start holds
(``not_started``). Entry points: ``serve``, ``run_local`` and ``Worker``."""

from sglang_worker.jobs.handler import Worker, make_worker

__all__ = ["Worker", "make_worker"]
