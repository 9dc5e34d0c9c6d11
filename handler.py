"""RunPod serverless worker for SGLang with first-class image input.

    python handler.py                        # deployed, or ./test_input.json locally
    python handler.py --test_input '<json>'  # one job (JSON text or a file); prints its output

Everything lives in the ``sglang_worker`` package under ``src/``; see README.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from sglang_worker.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
