"""Untrusted media decoded in a child process: the part of video and audio preparation that is
the same for both. ``sandbox`` is the worker's side (start the child, send the job and the
bytes, read the answer, kill it at the deadline); ``child`` is the child's (limits first, then
the medium's own ``prepare``, then the answer).

This file imports nothing, so that a decoder child starts without the worker's HTTP and
settings stack."""
