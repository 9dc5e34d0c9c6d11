"""Every audio part made safe for SGLang. The entry point is ``AudioPipeline`` (``pipeline``:
parts in, data URLs of vetted mono tracks and an ``AudioReport`` out); its modules, in the order
a file meets them: ``parts`` (what an API module hands over), ``decoder.sources`` (source
reading and the guarded fetch, shared with images and video), ``decoder.sandbox`` (the child
process), ``decoder_process`` (the child's entry point), ``track`` (probe, limits, decode,
resample, encode) and ``rules`` (what the served model's feature extractor wants, pure).

This file imports nothing, for the decoder child's start-up (as ``video``'s)."""
