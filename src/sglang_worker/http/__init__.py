"""The HTTP face: OpenAI- and Anthropic-compatible HTTP over the pipeline, for RunPod's
load-balancing endpoints. The app (``app``: /ping, the guarded routes, the in-flight bound),
its lifecycle (``serve``: listen first, start the engine, drain, stop), request bodies within a
limit (``body``) and response writing (``responses``: SSE written as it comes, error bodies at
real HTTP statuses, client disconnects), the last two shared with the RunPod emulator."""
