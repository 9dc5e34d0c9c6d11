"""RunPod serverless worker for SGLang with first-class image input.

The data's way through the package: ``job_input`` (RunPod job shapes) -> ``request`` (what to
send) -> ``images`` and ``image_*`` (every image part made safe) -> ``engine_client`` (the
SGLang call) -> ``stream`` (SSE re-framing and batching) -> ``output`` (what the SDK gets).
``engine`` and ``engine_args`` supervise the SGLang server; ``main`` owns the process lifecycle.
"""
