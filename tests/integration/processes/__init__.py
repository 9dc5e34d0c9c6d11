"""Tests that run the worker as its own process, each with its own SGLang server.

A directory of their own so they run before the session's shared SGLang server starts: an
idle SGLang CPU scheduler keeps a core busy, and these start servers of their own.
"""
