"""RunPod serverless worker for SGLang with first-class image input.

The flow map: one transport-neutral pipeline, two faces.

    RunPod job --> jobs/ (input: the route decided once)  --\
                                                              +--> pipeline/ --> apis/ (the
    HTTP request --> http/ (the route decided once)       --/        |   route's body, field
                                                                      |   rules, image slots)
                                                                      +--> images/ (every
                                                                      |    image part made safe)
                                                                      v
                                                      engine/ (client -> SGLang, SSE stream)
                                                                      |
    job yields (jobs/output) <-- events or one response <------------+--> SSE / JSON (http/)

``main`` is the mode switch; each mode's lifecycle is one module: ``jobs.serve`` (RunPod's job
queue), ``http.serve`` (a load-balancing endpoint), ``jobs.local_run`` (``--test_input``).
``engine.server`` supervises the SGLang process. ``errors``, ``settings``, ``routes``, ``sse``
(event framing), ``loop_session`` and ``child_process`` are the shared leaves every layer may
use. The RunPod
emulator (``runpod_local``) and the tiny-model builder (``tiny_models``) are development tools
beside this package.
"""
