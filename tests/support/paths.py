"""Where the checkout is, for the tests (the product does not know)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
