"""SGLang flags from environment variables, checked against SGLang's own parser."""

import argparse
import json
import re
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from runpod_local.settings import LocalSettings
from sglang_worker.engine.flags import (
    EngineLaunch,
    argv_from_env,
    build_argv,
    explain_rejection,
    flag_table,
    sglang_parser,
    split_sglang_args,
)
from sglang_worker.errors import EngineConfigError
from sglang_worker.settings import Settings, variables

GPU = EngineLaunch(model_path="m", port=30000, cpu=False, max_total_tokens=8192)
CPU = EngineLaunch(model_path="m", port=30000, cpu=True, max_total_tokens=8192)


def small_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-path", "--model")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--context-length", type=int)
    parser.add_argument("--tensor-parallel-size", "--tp-size", type=int)
    parser.add_argument("--enable-metrics", action="store_true")
    parser.add_argument("--enable-tf32", action=argparse.BooleanOptionalAction)
    parser.add_argument("--gc-threshold", nargs="+", type=int)
    parser.add_argument("--config")
    parser.add_argument("--api-key")
    return parser


def test_flag_table_kinds_aliases_and_reserved_names():
    table = flag_table(small_parser())
    assert table["CONTEXT_LENGTH"].kind == "value"
    assert table["TP_SIZE"].option == "--tp-size"
    assert table["TENSOR_PARALLEL_SIZE"].option == "--tensor-parallel-size"
    assert table["ENABLE_METRICS"].kind == "switch"
    assert table["ENABLE_TF32"].kind == "negatable" and "NO_ENABLE_TF32" not in table
    assert table["GC_THRESHOLD"].kind == "list"
    assert table["TOKENIZER_NAME"].option == "--tokenizer-path"
    for reserved in ("HOST", "PORT", "MODEL", "MODEL_PATH", "API_KEY", "HELP", "CONFIG"):
        assert reserved not in table


def test_argv_from_env_every_kind():
    env = {"CONTEXT_LENGTH": "4096", "ENABLE_METRICS": "true", "ENABLE_TF32": "false",
           "GC_THRESHOLD": "10 20 30", "HOST": "0.0.0.0", "PORT": "1", "PATH": "/bin"}
    settings = Settings(sglang_args="--context-length 2048 --log-level 'debug'")
    launch = replace(GPU, extra_args=split_sglang_args(settings.sglang_args))
    argv, sources = argv_from_env(env, flag_table(small_parser()), launch)
    assert argv[:6] == ["--model-path", "m", "--host", "127.0.0.1", "--port", "30000"]
    rest = argv[6:]
    assert rest[:2] == ["--context-length", "4096"]
    assert "--enable-metrics" in rest and "--no-enable-tf32" in rest
    i = rest.index("--gc-threshold")
    assert rest[i + 1:i + 4] == ["10", "20", "30"]
    assert rest[-4:] == ["--context-length", "2048", "--log-level", "debug"]  # SGLANG_ARGS last
    assert "0.0.0.0" not in argv and "--device" not in argv
    assert sources["--context-length"] == "CONTEXT_LENGTH"


def test_false_switch_is_left_out_and_a_bad_boolean_names_the_variable():
    argv, _ = argv_from_env({"ENABLE_METRICS": "0"}, flag_table(small_parser()), GPU)
    assert "--enable-metrics" not in argv
    with pytest.raises(EngineConfigError, match="ENABLE_METRICS='maybe' is not a boolean"):
        argv_from_env({"ENABLE_METRICS": "maybe"}, flag_table(small_parser()), GPU)


def test_empty_variables_count_as_unset():
    argv, _ = argv_from_env({"CONTEXT_LENGTH": "", "ENABLE_METRICS": " ", "DEVICE": ""},
                            flag_table(small_parser()), CPU)
    assert "--context-length" not in argv and "--enable-metrics" not in argv
    assert argv[-4:] == ["--device", "cpu", "--max-total-tokens", "8192"]


def test_cpu_defaults_unless_the_user_set_them():
    argv, sources = argv_from_env({}, flag_table(small_parser()), CPU)
    assert argv[-4:] == ["--device", "cpu", "--max-total-tokens", "8192"]
    assert sources["--max-total-tokens"] == "CPU_MAX_TOTAL_TOKENS"
    argv, _ = argv_from_env({"DEVICE": "xpu", "MAX_TOTAL_TOKENS": "99"},
                            {}, CPU)
    assert "cpu" not in argv and "8192" not in argv


def test_sglang_args_come_from_the_settings_only_and_a_bad_quote_names_the_variable():
    launch = replace(GPU, extra_args=split_sglang_args("--chat-template 'a b'"))
    assert EngineLaunch.from_json(json_of(launch)) == launch
    argv, sources = argv_from_env({"SGLANG_ARGS": "--ignored 1"}, {}, launch)
    assert argv[-2:] == ["--chat-template", "a b"] and "--ignored" not in argv
    assert sources["--chat-template"] == "SGLANG_ARGS"
    assert split_sglang_args("") == ()
    with pytest.raises(EngineConfigError, match=r"^SGLANG_ARGS cannot be split shell-style"):
        split_sglang_args("--chat-template 'a b")
    with pytest.raises(EngineConfigError, match=r"^GC_THRESHOLD cannot be split shell-style"):
        argv_from_env({"GC_THRESHOLD": "'10 20"}, flag_table(small_parser()), GPU)


def json_of(launch: EngineLaunch) -> str:
    return json.dumps(asdict(launch))  # as engine.launch_engine passes it


def test_explain_rejection_names_the_variable():
    sources = {"--context-length": "CONTEXT_LENGTH"}
    stderr = "usage: ...\nsglang: error: argument --context-length: invalid int value: 'x'\n"
    assert explain_rejection(stderr, sources) == (
        "CONTEXT_LENGTH: argument --context-length: invalid int value: 'x'")
    assert explain_rejection("sglang: error: unrecognized arguments: --bogus", {}).startswith(
        "SGLANG_ARGS: unrecognized arguments")


# --- Against SGLang's real parser (the installed sglang) -------------------------------------



@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return sglang_parser()


@pytest.fixture(scope="module")
def real_table(parser):
    return flag_table(parser)


def test_real_table_has_the_documented_examples(real_table):
    for name in ("CONTEXT_LENGTH", "MEM_FRACTION_STATIC", "TENSOR_PARALLEL_SIZE", "TP_SIZE",
                 "TOOL_CALL_PARSER", "MAX_TOTAL_TOKENS", "SKIP_SERVER_WARMUP", "DEVICE"):
        assert name in real_table
    assert real_table["SKIP_SERVER_WARMUP"].kind == "switch"
    assert len(real_table) > 300


def test_real_parser_accepts_a_good_setting_and_names_the_variable_of_a_bad_one(parser):
    argv = build_argv({"CONTEXT_LENGTH": "2048", "SKIP_SERVER_WARMUP": "true"}, CPU, parser)
    assert argv[argv.index("--context-length"):][:2] == ["--context-length", "2048"]
    with pytest.raises(EngineConfigError, match=r"^invalid SGLang server setting: CONTEXT_LENGTH"):
        build_argv({"CONTEXT_LENGTH": "lots"}, CPU, parser)
    with pytest.raises(EngineConfigError, match="ATTENTION_BACKEND"):
        build_argv({"ATTENTION_BACKEND": "no-such-backend"}, CPU, parser)
    with pytest.raises(EngineConfigError, match="SGLANG_ARGS: unrecognized arguments: --bogus"):
        build_argv({}, replace(CPU, extra_args=split_sglang_args("--bogus 1")), parser)


def _env_names_sglang_reads() -> set[str]:
    import sglang

    root = Path(sglang.__file__).parent
    pattern = re.compile(
        r"""(?:os\.environ\.get|os\.getenv|os\.environ\[|environ\.get)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
    )
    names: set[str] = set()
    for path in root.rglob("*.py"):
        names.update(pattern.findall(path.read_text(encoding="utf-8", errors="replace")))
    environ = (root / "srt" / "environ.py").read_text(encoding="utf-8")
    names.update(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s*=\s*Env", environ, re.M))
    return names


def test_worker_settings_shadow_no_sglang_flag_or_sglang_variable(real_table):
    # The local endpoint's variables reach the worker's engine too (it inherits the environment).
    ours = set(variables(Settings)) | set(variables(LocalSettings))
    assert "REQUEST_TIMEOUT" in _env_names_sglang_reads()  # the scan does find SGLang's reads
    assert not ours & set(real_table)
    assert not ours & _env_names_sglang_reads()
