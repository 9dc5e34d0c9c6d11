"""A local RunPod endpoint: the worker runs exactly as deployed, behind RunPod's API on loopback.

``make serve`` (``python -m runpod_local``) runs three processes' worth of
work: this endpoint, the worker (``python handler.py``, unchanged, the RunPod SDK's real job
loop) and the worker's SGLang server. The worker talks to the endpoint the way it talks to
RunPod, through the ``RUNPOD_WEBHOOK_*`` URLs; clients talk to it the way they talk to RunPod.

The modules, in the order a job goes through them:

| Module | Its one job |
| --- | --- |
| ``request_body`` | RunPod's body size limits (413) and JSON bodies |
| ``public_api`` | ``/run``, ``/runsync``, ``/status``, ``/stream``, ``/cancel``, ``/health`` |
| ``openai_routes`` | ``/openai/v1/...`` as an OpenAI server (aiohttp handlers) |
| ``openai_relay`` | the OpenAI job input, SSE bytes and error answers (pure) |
| ``jobs`` | the job state machine and RunPod's response bodies (pure) |
| ``board`` | the job store with waiting, shared by both APIs |
| ``job_api`` | the worker-facing job API: job-take, job-stop, job-stream, job-done |
| ``runner`` | the worker process: start, output, signals, stop |
| ``__main__`` | the lifecycle: start, wait ready, serve, stop |
"""
