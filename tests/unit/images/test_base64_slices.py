"""Sliced base64 gives exactly what the one-shot calls give, errors included."""

import base64
import binascii
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sglang_worker.images import base64_slices


@pytest.mark.parametrize("size", [0, 1, 2, 3, base64_slices.SLICE, 3 * base64_slices.SLICE + 7,
                                  2_000_003])
def test_round_trip_matches_the_standard_library(size):
    data = os.urandom(size)
    text = base64_slices.encode(data)
    assert text == base64.b64encode(data).decode("ascii")
    assert base64_slices.decode(text) == data


@given(st.binary(max_size=2000))
def test_small_inputs_match(data):
    assert base64_slices.encode(data) == base64.b64encode(data).decode()


@pytest.mark.parametrize("bad", ["abc", "a" * (base64_slices.SLICE + 2),
                                 "!" * base64_slices.SLICE * 2,
                                 "QQ==" + "A" * (base64_slices.SLICE * 2 - 4),
                                 "A" * (base64_slices.SLICE - 2) + "==" + "AAAA"])
def test_invalid_base64_raises_like_the_strict_decoder(bad):
    with pytest.raises(binascii.Error):
        base64_slices.decode(bad)
