"""RunPod serverless worker for SGLang with first-class image input.

The flow map: one transport-neutral pipeline, two faces.

    RunPod job --> jobs/ (input -> EngineRequest)  --\
                                                     +--> pipeline/ --> images/ (every image
    HTTP request --> http/ (OpenAI-compatible)     --/       |           part made safe)
                                                             v
                                                      engine/ (client -> SGLang, SSE stream)
                                                             |
    job yields (jobs/output) <-- events or one response <----+--> SSE / JSON (http/responses)

``engine/server`` supervises the SGLang process; ``main`` owns the process lifecycle.
``errors``, ``settings``, ``routes`` and ``loop_session`` are the shared leaves every layer
may use. The RunPod emulator (``runpod_local``) is a development tool beside this package.
"""
