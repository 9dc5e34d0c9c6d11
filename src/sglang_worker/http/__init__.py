"""The HTTP face: OpenAI-compatible HTTP over the pipeline. Today its response writing
(``responses``: SSE written as it comes, OpenAI error bodies at real HTTP statuses, client
disconnects), shared with the RunPod emulator's OpenAI route; the app that serves the pipeline
directly (load-balancing mode) comes next, on the same writing."""
