"""Telling image sources apart, decoding base64 leniently, and reading local files safely."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sglang_worker.errors import ImageError
from sglang_worker.images.budget import ImageBudget
from sglang_worker.images.source import (
    InlineSource,
    LocalSource,
    RemoteSource,
    classify,
    decode_inline,
    read_local_file,
)
from tests.support import image_corpus as corpus

JPEG = corpus.jpeg()
JPEG_B64 = base64.b64encode(JPEG).decode()


def decoded(text: str) -> bytes:
    source = classify(text)
    assert isinstance(source, InlineSource)
    return decode_inline(source)[0]


def wrapped(text: str, width: int = 76) -> str:
    return "\n".join(text[i:i + width] for i in range(0, len(text), width))


@pytest.mark.parametrize(("text", "kind"), [
    ("https://example.com/cat.jpg", RemoteSource),
    ("HTTP://EXAMPLE.COM/cat.jpg", RemoteSource),
    ("data:image/png;base64,iVBORw0KGgo=", InlineSource),
    ("DATA:IMAGE/PNG;BASE64,iVBORw0KGgo=", InlineSource),
    ("file:///srv/images/cat.png", LocalSource),
    ("/srv/images/cat.png", LocalSource),
    ("/srv/images/cat", LocalSource),  # all base64 characters, but decodes to no known format
    ("/9j/4AAQSkZJRgABAQ", InlineSource),  # base64 JPEG starts with a slash
    ("iVBORw0KGgoAAAANSUhEUg", InlineSource),  # bare base64 PNG
    ("R0lGODlhAQABAAAAACw=", InlineSource),  # bare base64 GIF
    ("  https://example.com/padded.jpg \n", RemoteSource),
])
def test_sources_are_classified(text: str, kind: type) -> None:
    assert isinstance(classify(text), kind)


@pytest.mark.parametrize(("text", "words"), [
    ("ftp://example.com/a.png", "unsupported URL scheme 'ftp'"),
    ("s3://bucket/key.png", "unsupported URL scheme 's3'"),
    ("gopher://x", "unsupported URL scheme"),
    ("javascript:alert(1)", "unsupported URL scheme 'javascript'"),
    ("images/cat.png", "not a URL, a data URL, an absolute path or base64"),
    ("hello world!", "not a URL"),
    ("   ", "empty string"),
    ("data:image/png;base64", "no ','"),
])
def test_unusable_strings_are_refused_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(ImageError, match=words):
        classify(text)


@pytest.mark.parametrize("variant", [
    pytest.param(f"data:image/jpeg;base64,{JPEG_B64}", id="canonical"),
    pytest.param(f"data:image/jpeg;base64,{wrapped(JPEG_B64)}", id="line breaks"),
    pytest.param("data:image/jpeg;base64," + wrapped(JPEG_B64, 64).replace("\n", "\r\n"),
                 id="CRLF"),
    pytest.param("data:image/jpeg;base64, " + wrapped(JPEG_B64, 10).replace("\n", " "),
                 id="spaces"),
    pytest.param("data:image/jpeg;base64," + base64.urlsafe_b64encode(JPEG).decode(),
                 id="URL-safe alphabet"),
    pytest.param("data:image/jpeg;base64," + base64.urlsafe_b64encode(JPEG).decode().rstrip("="),
                 id="URL-safe, no padding"),
    pytest.param("data:image/jpeg;base64," + JPEG_B64.rstrip("="), id="no padding"),
    pytest.param("data:image/jpeg;base64," + quote(JPEG_B64, safe=""), id="percent-encoded"),
    pytest.param("data:image/png;base64," + JPEG_B64, id="wrong declared type"),
    pytest.param("data:;base64," + JPEG_B64, id="no declared type"),
    pytest.param("data:image/jpeg;name=cat.jpg;base64," + JPEG_B64, id="extra parameter"),
    pytest.param(JPEG_B64, id="bare"),
    pytest.param(wrapped(JPEG_B64), id="bare with line breaks"),
    pytest.param(base64.urlsafe_b64encode(JPEG).decode().rstrip("="), id="bare URL-safe"),
])
def test_base64_variants_all_decode_to_the_same_bytes(variant: str) -> None:
    assert decoded(variant) == JPEG


def test_only_canonical_base64_is_reported_canonical() -> None:
    assert decode_inline(classify("data:image/jpeg;base64," + JPEG_B64)) == (JPEG, True)
    assert decode_inline(classify(wrapped(JPEG_B64)))[1] is False


def test_percent_encoded_data_urls_decode() -> None:
    svg = corpus.NOT_IMAGES["SVG"]
    assert decoded("data:image/svg+xml," + quote(svg)) == svg


@pytest.mark.parametrize("payload", ["@@@@", "abc!def", "é" * 8, "a"])
def test_invalid_base64_is_refused(payload: str) -> None:
    with pytest.raises(ImageError, match="not valid base64"):
        decode_inline(InlineSource(payload, 0, True))


@given(st.binary(min_size=1, max_size=300), st.booleans(), st.booleans(),
       st.integers(min_value=1, max_value=90))
def test_any_bytes_survive_any_lenient_spelling(data: bytes, urlsafe: bool, strip: bool,
                                                width: int) -> None:
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()
    if strip:
        text = text.rstrip("=")
    text = wrapped(text, width)
    assert decode_inline(InlineSource(text, 0, True))[0] == data


# --- Local files --------------------------------------------------------------------------

BUDGET = ImageBudget(per_image=1024 * 1024, total=4 * 1024 * 1024)


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    (root / "cat.jpg").write_bytes(JPEG)
    (root / "sub").mkdir()
    (root / "sub" / "dog.jpg").write_bytes(JPEG)
    (tmp_path / "secret.jpg").write_bytes(b"outside")
    return root


def test_local_files_are_refused_by_default(image_dir: Path) -> None:
    with pytest.raises(ImageError, match="IMAGE_LOCAL_DIR is not set"):
        read_local_file(LocalSource(str(image_dir / "cat.jpg")), None, BUDGET)


@pytest.mark.parametrize("form", ["{root}/cat.jpg", "file://{root}/cat.jpg",
                                  "file://localhost{root}/sub/dog.jpg", "{root}/sub/../cat.jpg",
                                  "file://{root}/c%61t.jpg"])
def test_local_files_under_the_directory_are_read(image_dir: Path, form: str) -> None:
    source = classify(form.format(root=image_dir))
    assert isinstance(source, LocalSource)
    assert read_local_file(source, image_dir, BUDGET) == JPEG


def test_local_paths_that_escape_the_directory_are_refused(image_dir: Path) -> None:
    (image_dir / "link-out.jpg").symlink_to(image_dir.parent / "secret.jpg")
    (image_dir / "dir-out").symlink_to(image_dir.parent)
    for path in (f"{image_dir}/../secret.jpg", f"{image_dir}/link-out.jpg",
                 f"{image_dir}/dir-out/secret.jpg", "/etc/passwd", f"file://{image_dir}/../secret.jpg"):
        with pytest.raises(ImageError, match="outside IMAGE_LOCAL_DIR"):
            read_local_file(LocalSource(path), image_dir, BUDGET)


def test_symlinks_that_stay_inside_are_followed(image_dir: Path) -> None:
    (image_dir / "alias.jpg").symlink_to(image_dir / "sub" / "dog.jpg")
    assert read_local_file(LocalSource(str(image_dir / "alias.jpg")), image_dir, BUDGET) == JPEG


@pytest.mark.parametrize(("make", "words"), [
    (lambda root: root / "missing.jpg", "does not exist"),
    (lambda root: root / "sub", "not a regular file"),
    (lambda root: (os.mkfifo(root / "pipe"), root / "pipe")[1], "not a regular file"),
])
def test_local_non_files_are_refused_without_hanging(image_dir: Path, make, words: str) -> None:
    with pytest.raises(ImageError, match=words):
        read_local_file(LocalSource(str(make(image_dir))), image_dir, BUDGET)


def test_local_files_over_the_limit_are_refused_before_reading(image_dir: Path) -> None:
    (image_dir / "big.jpg").write_bytes(b"\xff" * 3000)
    small = ImageBudget(per_image=2000, total=10_000)
    words = r"image is 2\.9 KB, over the 2 KB limit \(MAX_IMAGE_BYTES\)"
    with pytest.raises(ImageError, match=words):
        read_local_file(LocalSource(str(image_dir / "big.jpg")), image_dir, small)


@pytest.mark.parametrize(("text", "words"), [
    ("file://otherhost/srv/a.jpg", "another host"),
    ("file:relative/a.jpg", "must be absolute"),
])
def test_odd_file_urls_are_refused(image_dir: Path, text: str, words: str) -> None:
    with pytest.raises(ImageError, match=words):
        read_local_file(LocalSource(text), image_dir, BUDGET)
