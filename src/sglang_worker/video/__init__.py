"""Every video part made safe for SGLang. The entry point is ``VideoPipeline`` (``pipeline``:
parts in, data URLs of small vetted clips and a ``VideoReport`` out); its modules, in the order a
video meets them: ``parts`` (what an API module hands over), the image package's source reading
and guarded fetch, ``sandbox`` (the worker's side of the decoder process), ``decoder_process``
(the child), ``clip`` (probe, limits, decode, resize, encode) and ``sampling`` (SGLang's frame
sampling and sizing, pure).

This file imports nothing: the decoder process imports ``sglang_worker.video.decoder_process``,
and every import of the package would run here first, so it stays free of the worker's HTTP
and settings stack (the child starts in a fraction of the time). Import the modules
themselves."""
