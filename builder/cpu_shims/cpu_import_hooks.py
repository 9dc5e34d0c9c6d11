"""Stand-ins that let SGLang run on the CPU build of torch, applied right after the module that
needs each one is imported. CPU environment only: the GPU image never installs this file.

1. PyPI's torchvision next to CPU torch. SGLang's Qwen-VL image processor imports torchvision.
   The torchvision wheels on PyPI link ``libtorch_cuda.so``, so their ``_C`` op library cannot
   load next to CPU torch. torchvision tolerates that (``torchvision.extension._has_ops()``
   becomes False), except that ``torchvision/_meta_registrations.py`` then calls
   ``torch.library.register_fake("torchvision::nms")`` (and ``qnms``) anyway, and torch raises
   ``operator torchvision::nms does not exist``. The pure-Python transforms SGLang needs are
   fine. Right after ``torchvision.extension`` has run, and only if ``_C`` failed to load, the
   ``nms`` and ``qnms`` schemas are declared in a ``torchvision`` library fragment, so the later
   ``register_fake`` calls find them. When ``_C`` loads (a matching CPU torchvision) nothing is
   declared.
2. Pinned memory in SGLang's LoRA. SGLang 0.5.23's LoRA layers and backends allocate their
   host-side index buffers with ``pin_memory=True`` (and call ``Tensor.pin_memory()``), which
   raises ``RuntimeError: pin_memory=True requires a CUDA or other accelerator backend`` on a
   machine without one. Pinning only speeds copies to an accelerator, so when SGLang's LoRA
   manager or layers are imported (``sglang.srt.lora`` itself is a namespace package, which has
   no loader to wrap) and torch sees no accelerator, ``Tensor.pin_memory`` returns
   the tensor itself and the factories SGLang calls with the flag (``torch.empty``,
   ``torch.zeros``, ``torch.tensor``, ...) drop it. With an accelerator nothing changes.

``install()`` (run at interpreter start by ``cpu_import_hooks.pth``) puts one finder on
``sys.meta_path`` that wraps the loader of each watched module. Interpreter start stays cheap:
torch is not imported until a watched module is.
"""

from __future__ import annotations

import functools
import sys

_NMS_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_PINNING_FACTORIES = ("empty", "zeros", "ones", "full", "tensor", "as_tensor", "arange",
                      "empty_strided")
_fragments: list[object] = []  # a torch Library unregisters its definitions when collected


def declare_missing_nms_schemas(extension) -> None:
    if extension._has_ops():
        return
    import torch

    fragment = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _NMS_SCHEMAS:
        fragment.define(schema)
    _fragments.append(fragment)


def _without_pinning(factory):
    @functools.wraps(factory)
    def call(*args, **kwargs):
        kwargs.pop("pin_memory", None)
        return factory(*args, **kwargs)

    return call


def unpin_memory(_lora) -> None:
    import torch

    if torch.cuda.is_available() or getattr(torch.Tensor.pin_memory, "_unpinned", False):
        return

    def pin_memory(self, *args, **kwargs):
        return self

    pin_memory._unpinned = True
    torch.Tensor.pin_memory = pin_memory
    for name in _PINNING_FACTORIES:
        setattr(torch, name, _without_pinning(getattr(torch, name)))


_AFTER_IMPORT = {"torchvision.extension": declare_missing_nms_schemas,
                 "sglang.srt.lora.lora_manager": unpin_memory,
                 "sglang.srt.lora.layers": unpin_memory}


# Plain classes rather than importlib.abc subclasses: importing importlib.abc costs about 30 ms,
# and this module is imported at every interpreter start.
class _AfterImportLoader:
    def __init__(self, wrapped, then) -> None:
        self._wrapped = wrapped
        self._then = then

    def __getattr__(self, name: str):
        return getattr(self._wrapped, name)  # get_source, get_filename, resource readers

    def create_module(self, spec):
        return self._wrapped.create_module(spec)

    def exec_module(self, module) -> None:
        self._wrapped.exec_module(module)
        self._then(module)


class _AfterImportFinder:
    def find_spec(self, fullname, path=None, target=None):
        then = _AFTER_IMPORT.get(fullname)
        if then is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _AfterImportLoader(spec.loader, then)
                return spec
        return None


def install() -> None:
    if not any(isinstance(f, _AfterImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImportFinder())
