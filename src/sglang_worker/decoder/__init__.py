"""Untrusted media decoded in a child process: the part of video and audio preparation that is
the same for both. In the worker: ``media`` (a medium's count check, reading and decoding of
a request's parts), ``sources`` (reading one part's bytes through the image guard; the
fan-out) and ``sandbox`` (start the child, send the job and the bytes, read the answer, kill it
at the deadline; the spare children). In the child: ``child`` (limits, then the medium's own
``prepare``, then the answer) and ``probe`` (FFmpeg helpers both media's decoders use).

This file imports nothing, so that a decoder child starts without the worker's HTTP and
settings stack."""
