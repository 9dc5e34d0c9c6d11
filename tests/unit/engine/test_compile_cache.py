"""Where the engines' compile caches go: the decisions, on real directories."""

from pathlib import Path

from sglang_worker.engine.compile_cache import (
    cache_key,
    compile_cache_env,
    plan_compile_cache,
    probe,
)

KEY = cache_key("NVIDIA H100 80GB HBM3", "0.5.23", "2.9.1+cu130")
GIB = 2**30


def plan(tmp_path: Path, env=None, configured=None, check=probe, min_free=0):
    return plan_compile_cache(env or {}, configured=configured,
                              base_path=tmp_path / "runpod-volume", key=KEY,
                              min_free_bytes=min_free, check=check)


def test_the_key_separates_gpu_models_and_engine_builds():
    assert KEY == "nvidia-h100-80gb-hbm3_sglang-0.5.23_torch-2.9.1+cu130"
    others = {cache_key("NVIDIA A100-SXM4-80GB", "0.5.23", "2.9.1+cu130"),
              cache_key("NVIDIA H100 80GB HBM3", "0.5.24", "2.9.1+cu130"),
              cache_key("NVIDIA H100 80GB HBM3", "0.5.23", "2.9.1+cu128"),
              cache_key(None, "0.5.23", "2.9.1+cu130")}
    assert KEY not in others and len(others) == 4
    assert "/" not in cache_key("../../etc", "1/2", "x y")


def test_a_mounted_volume_holds_the_caches_under_the_key(tmp_path):
    (tmp_path / "runpod-volume").mkdir()
    decided = plan(tmp_path)
    directory = tmp_path / "runpod-volume" / "sglang-compile-cache" / KEY
    assert decided.env == {"SGLANG_CACHE_DIR": str(directory),
                           "TVM_FFI_CACHE_DIR": str(directory / "tvm-ffi")}
    assert decided.message == f"compile caches: {directory}"
    assert not decided.warning
    assert directory.is_dir() and list(directory.iterdir()) == []  # the probe cleaned up


def test_no_volume_keeps_the_containers_caches(tmp_path):
    decided = plan(tmp_path)
    assert decided.env == {} and not decided.warning
    assert "no network volume" in decided.message
    assert not (tmp_path / "runpod-volume").exists()


def test_a_volume_that_cannot_be_written_falls_back_with_a_warning(tmp_path):
    """A file where the cache directory should be: the probe's mkdir fails as it does on a
    read-only mount (EROFS), and it fails for root too, which a mode bit would not."""
    volume = tmp_path / "runpod-volume"
    volume.mkdir()
    (volume / "sglang-compile-cache").write_text("not a directory")
    decided = plan(tmp_path)
    assert decided.env == {} and decided.warning
    assert decided.message.startswith("compile caches: kept in the container, not at ")
    assert "it is not writable" in decided.message


def test_a_read_only_volume_is_not_written_even_by_root(tmp_path):
    volume = tmp_path / "runpod-volume"
    volume.mkdir()
    volume.chmod(0o555)
    try:
        decided = plan(tmp_path)
        assert list(volume.iterdir()) == []
    finally:
        volume.chmod(0o755)
    assert decided.env == {} and decided.warning
    assert decided.message.endswith(": it is read-only")


def test_a_full_volume_falls_back_with_a_warning(tmp_path):
    (tmp_path / "runpod-volume").mkdir()
    decided = plan(tmp_path, min_free=2**62)
    assert decided.env == {} and decided.warning
    assert "GiB is free there (COMPILE_CACHE_MIN_FREE_BYTES is" in decided.message


def test_the_check_decides(tmp_path):
    (tmp_path / "runpod-volume").mkdir()
    asked = []
    decided = plan(tmp_path, check=lambda path, free: asked.append((path, free)) or "no room",
                   min_free=GIB)
    assert asked == [(tmp_path / "runpod-volume" / "sglang-compile-cache" / KEY, GIB)]
    assert decided.env == {} and decided.message.endswith(": no room")


def test_a_configured_directory_is_used_without_a_volume(tmp_path):
    decided = plan(tmp_path, configured=tmp_path / "caches")
    assert decided.env["SGLANG_CACHE_DIR"] == str(tmp_path / "caches" / KEY)


def test_the_deployers_own_cache_variables_win(tmp_path):
    (tmp_path / "runpod-volume").mkdir()
    assert plan(tmp_path, env={"SGLANG_CACHE_DIR": "/mine"}).env == {}
    decided = plan(tmp_path, env={"TVM_FFI_CACHE_DIR": "/mine/tvm"})
    assert set(decided.env) == {"SGLANG_CACHE_DIR"}


def test_this_machines_key_names_its_engine_build(tmp_path):
    from importlib.metadata import version

    decided = compile_cache_env({}, configured=tmp_path, base_path=tmp_path / "none",
                                gpu=None, min_free_bytes=0)
    assert decided.env["SGLANG_CACHE_DIR"] == str(
        tmp_path / cache_key(None, version("sglang"), version("torch")))
