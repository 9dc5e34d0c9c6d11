"""RunPod serverless worker for SGLang with first-class image input.

    python handler.py                        # deployed, or ./test_input.json locally
    python handler.py --test_input '<json>'  # one job (JSON text or a file); prints its output

Everything lives in the ``sglang_worker`` package under ``src/``, installed into the CPU
environment by ``make setup`` and put on ``PYTHONPATH`` by the Dockerfile; see README.md.
"""

import sys

from sglang_worker.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
