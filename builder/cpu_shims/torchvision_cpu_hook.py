"""Let PyPI's torchvision import next to the CPU build of torch.

Why this exists: SGLang's Qwen-VL image processor imports torchvision. The torchvision wheels on
PyPI link ``libtorch_cuda.so``, so their ``_C`` op library cannot load next to CPU torch.
torchvision tolerates that (``torchvision.extension._has_ops()`` becomes False), except that
``torchvision/_meta_registrations.py`` then calls
``torch.library.register_fake("torchvision::nms")`` (and ``qnms``) anyway, and torch raises
``operator torchvision::nms does not exist``. The pure-Python transforms SGLang needs are fine.

What it does: ``install()`` (run at interpreter start by ``torchvision_cpu_hook.pth``) puts a
finder on ``sys.meta_path`` that waits for ``torchvision.extension``, the module in which
torchvision tries to load ``_C``. Right after that module has run, and only if ``_C`` failed to
load, it declares the ``nms`` and ``qnms`` schemas in a ``torchvision`` library fragment, so the
later ``register_fake`` calls find them. When ``_C`` loads (a matching CPU torchvision) nothing is
declared. Interpreter start stays cheap: torch is not imported until torchvision is.
"""

from __future__ import annotations

import sys

_WATCHED_MODULE = "torchvision.extension"
_NMS_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_fragments: list[object] = []  # a torch Library unregisters its definitions when collected


def declare_missing_nms_schemas() -> None:
    import torch

    fragment = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _NMS_SCHEMAS:
        fragment.define(schema)
    _fragments.append(fragment)


# Plain classes rather than importlib.abc subclasses: importing importlib.abc costs about 30 ms,
# and this module is imported at every interpreter start.
class _AfterExtensionLoader:
    def __init__(self, wrapped) -> None:
        self._wrapped = wrapped

    def __getattr__(self, name: str):
        return getattr(self._wrapped, name)  # get_source, get_filename, resource readers

    def create_module(self, spec):
        return self._wrapped.create_module(spec)

    def exec_module(self, module) -> None:
        self._wrapped.exec_module(module)
        if not module._has_ops():
            declare_missing_nms_schemas()


class _TorchvisionExtensionFinder:
    def find_spec(self, fullname, path=None, target=None):
        if fullname != _WATCHED_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _AfterExtensionLoader(spec.loader)
                return spec
        return None


def install() -> None:
    if not any(isinstance(f, _TorchvisionExtensionFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionExtensionFinder())
