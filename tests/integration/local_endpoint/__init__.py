"""Tests of the local endpoint (make serve) against the real worker and SGLang server.

A package, so that the endpoint fixture (scope="package") is torn down after the last test here:
an idle SGLang CPU scheduler busy-polls one core, which the rest of the suite needs.
"""
