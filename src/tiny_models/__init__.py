"""Development tool, not part of the product: tiny, randomly initialised checkpoints for running
the real SGLang server on a CPU (``build``: ``python -m tiny_models.build --out DIR``). The
Makefile and the tests build them into ``.cache/models``; the Docker image leaves this package
out, and the worker only serves what it finds at ``TINY_MODEL_DIR``."""
