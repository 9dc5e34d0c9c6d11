"""worker-vllm's variables read as this worker's: the table, the translation, the "did you mean"
warnings and the generated migration table; a worker-vllm-style environment checked against
SGLang's own parser."""

import itertools

import pytest

from sglang_worker.engine.flags import EngineLaunch, build_argv, flag_table, sglang_parser
from sglang_worker.engine.launcher import known_variables
from sglang_worker.engine.vllm_env import (
    BY_NAME,
    VARIABLES,
    markdown_table,
    misspellings,
    translate,
)
from sglang_worker.settings import Settings, variables
from tests.support.paths import PROJECT_ROOT

GPU = EngineLaunch(model_path="Qwen/Qwen2.5-VL-7B-Instruct", port=30000, cpu=False,
                   max_total_tokens=8192)
# Read by the worker from the environment itself, not through a setting or a flag.
READ_FROM_THE_ENVIRONMENT = {"HF_TOKEN"}

# An endpoint's settings as worker-vllm's README and Hub form write them.
WORKER_VLLM_ENDPOINT = {
    "MODEL_NAME": "Qwen/Qwen2.5-VL-7B-Instruct",
    "MAX_MODEL_LEN": "16384",
    "GPU_MEMORY_UTILIZATION": "0.85",
    "MAX_NUM_SEQS": "64",
    "MAX_NUM_BATCHED_TOKENS": "4096",
    "OPENAI_SERVED_MODEL_NAME_OVERRIDE": "qwen-vl",
    "ENFORCE_EAGER": "true",
    "ENABLE_PREFIX_CACHING": "true",
    "KV_CACHE_DTYPE": "fp8",
    "TENSOR_PARALLEL_SIZE": "2",
    "TOOL_CALL_PARSER": "llama3_json",
    "ENABLE_AUTO_TOOL_CHOICE": "true",
    "RAW_OPENAI_OUTPUT": "1",
    "SEED": "7",
    "LIMIT_MM_PER_PROMPT": '{"image": 4, "video": 1}',
    "MAX_CONCURRENCY": "30",
}


@pytest.fixture(scope="module")
def parser():
    return sglang_parser()


def test_every_name_the_table_reads_or_sets_means_something_here(parser):
    """A row that pointed at a name nothing reads would be a silent no-op, the bug itself."""
    meaningful = {*flag_table(parser), *variables(), *READ_FROM_THE_ENVIRONMENT}
    for variable in VARIABLES:
        if variable.kind == "none":
            assert variable.name not in meaningful, variable.name
            continue
        targets = variable.target.split(", ")
        assert set(targets) <= meaningful, variable.name
        assert variable.note, variable.name
    assert len(BY_NAME) == len(VARIABLES)


def test_a_worker_vllm_endpoint_starts_sglang_with_the_same_limits(parser, monkeypatch):
    carried = translate(WORKER_VLLM_ENDPOINT)
    assert carried.updates == {
        "CONTEXT_LENGTH": "16384", "MEM_FRACTION_STATIC": "0.85", "MAX_RUNNING_REQUESTS": "64",
        "CHUNKED_PREFILL_SIZE": "4096", "SERVED_MODEL_NAME": "qwen-vl",
        "DISABLE_CUDA_GRAPH": "true", "KV_CACHE_DTYPE": "fp8_e4m3", "TOOL_CALL_PARSER": "llama3",
        "RANDOM_SEED": "7", "MAX_IMAGES_PER_REQUEST": "4", "MAX_VIDEOS_PER_REQUEST": "1",
    }
    env = {**WORKER_VLLM_ENDPOINT, **carried.updates}
    argv = build_argv(env, GPU, parser)
    pairs = dict(itertools.pairwise(argv))
    assert pairs["--context-length"] == "16384"
    assert pairs["--mem-fraction-static"] == "0.85"
    assert pairs["--max-running-requests"] == "64"
    assert pairs["--chunked-prefill-size"] == "4096"
    assert pairs["--served-model-name"] == "qwen-vl"
    assert pairs["--kv-cache-dtype"] == "fp8_e4m3"
    assert pairs["--tool-call-parser"] == "llama3"
    assert pairs["--random-seed"] == "7"
    assert pairs["--tensor-parallel-size"] == "2"
    assert "--disable-cuda-graph" in argv
    assert "--disable-radix-cache" not in argv  # prefix caching stays on, as asked
    for name, value in env.items():  # the worker's own limits, read from the same environment
        monkeypatch.setenv(name, value)
    worker = Settings()
    assert (worker.max_images_per_request, worker.max_videos_per_request,
            worker.max_concurrency) == (4, 1, 30)


def test_each_variable_found_is_logged_once_and_the_ignored_ones_say_what_sglang_does():
    notes = {note.variable: note for note in translate(WORKER_VLLM_ENDPOINT).notes}
    assert set(notes) == set(WORKER_VLLM_ENDPOINT) - {"MODEL_NAME", "TENSOR_PARALLEL_SIZE",
                                                      "MAX_CONCURRENCY"}
    assert notes["MAX_MODEL_LEN"].level == "info"
    assert notes["MAX_MODEL_LEN"].message == ("MAX_MODEL_LEN is worker-vllm's name: read as "
                                              "CONTEXT_LENGTH='16384'")
    assert notes["ENABLE_PREFIX_CACHING"].message.endswith("SGLang's default: nothing to set")
    warned = {name for name, note in notes.items() if note.level == "warning"}
    assert warned == {"ENABLE_AUTO_TOOL_CHOICE", "RAW_OPENAI_OUTPUT"}
    assert "TOOL_CALL_PARSER alone enables tool calls" in notes["ENABLE_AUTO_TOOL_CHOICE"].message
    assert "has no SGLang equivalent and is ignored" in notes["RAW_OPENAI_OUTPUT"].message


def test_the_workers_own_name_wins_and_the_log_says_so():
    carried = translate({"MAX_MODEL_LEN": "16384", "CONTEXT_LENGTH": "8192",
                         "LIMIT_MM_PER_PROMPT": '{"image": 2, "video": 3}',
                         "MAX_VIDEOS_PER_REQUEST": "1"})
    assert carried.updates == {"MAX_IMAGES_PER_REQUEST": "2"}
    messages = [note.message for note in carried.notes]
    assert messages == [
        "MAX_MODEL_LEN is worker-vllm's name; CONTEXT_LENGTH='8192' is set too and is used",
        "LIMIT_MM_PER_PROMPT is worker-vllm's name; MAX_VIDEOS_PER_REQUEST='1' is set too and "
        "is used",
    ]


def test_the_older_and_the_newer_name_for_one_setting_do_not_fight():
    """``MAX_MODEL_LENGTH`` (the old README's) after ``MAX_MODEL_LEN``: the first one read wins."""
    carried = translate({"MAX_MODEL_LEN": "4096", "MAX_MODEL_LENGTH": "2048"})
    assert carried.updates == {"CONTEXT_LENGTH": "4096"}
    assert "CONTEXT_LENGTH='4096' is set too" in carried.notes[1].message


@pytest.mark.parametrize("raw, expected", [
    ('{"image": 4}', {"MAX_IMAGES_PER_REQUEST": "4"}),
    ("image=2,video=0,audio=1", {"MAX_IMAGES_PER_REQUEST": "2", "MAX_VIDEOS_PER_REQUEST": "0",
                                 "MAX_AUDIOS_PER_REQUEST": "1"}),
])
def test_media_limits_in_either_of_vllms_spellings(raw, expected):
    assert translate({"LIMIT_MM_PER_PROMPT": raw}).updates == expected


@pytest.mark.parametrize("name, raw", [
    ("LIMIT_MM_PER_PROMPT", '{"pictures": 4}'),
    ("LIMIT_MM_PER_PROMPT", '{"image": -1}'),
    ("LIMIT_MM_PER_PROMPT", "[4]"),
    ("ENFORCE_EAGER", "sometimes"),
])
def test_a_value_that_cannot_be_read_is_one_warning_and_sets_nothing(name, raw):
    carried = translate({name: raw})
    assert carried.updates == {}
    (note,) = carried.notes
    assert note.level == "warning"
    assert note.message.startswith(f"{name}={raw!r} is ignored: expected")


@pytest.mark.parametrize("env, expected", [
    ({"ENFORCE_EAGER": "false"}, {}),
    ({"ENABLE_PREFIX_CACHING": "false"}, {"DISABLE_RADIX_CACHE": "true"}),
    ({"ENABLE_CHUNKED_PREFILL": "0"}, {"CHUNKED_PREFILL_SIZE": "-1"}),
    ({"MAX_MODEL_LEN": "   "}, {}),  # blank is unset, as everywhere here
    ({"KV_CACHE_DTYPE": "fp8_e5m2"}, {}),  # SGLang's own spelling: nothing to change
    ({"GUIDED_DECODING_BACKEND": "guidance"}, {"GRAMMAR_BACKEND": "llguidance"}),
    ({"REASONING_PARSER": "deepseek_r1"}, {"REASONING_PARSER": "deepseek-r1"}),
])
def test_conversions(env, expected):
    assert translate(env).updates == expected


def test_an_sglang_name_spelt_sglangs_way_is_not_reported_as_worker_vllms():
    assert translate({"KV_CACHE_DTYPE": "fp8_e5m2", "TOOL_CALL_PARSER": "qwen25"}).notes == ()


# Set in a RunPod worker's container by the platform, the image or the shell.
CONTAINER_ENV = [
    "RUNPOD_POD_ID", "RUNPOD_ENDPOINT_ID", "RUNPOD_WEBHOOK_GET_JOB", "RUNPOD_WEBHOOK_POST_OUTPUT",
    "RUNPOD_WEBHOOK_POST_STREAM", "RUNPOD_AI_API_KEY", "RUNPOD_API_KEY", "RUNPOD_LOG_LEVEL",
    "RUNPOD_GPU_COUNT", "RUNPOD_CPU_COUNT", "RUNPOD_POD_HOSTNAME", "RUNPOD_DC_ID",
    "RUNPOD_VOLUME_ID", "RUNPOD_PING_INTERVAL", "RUNPOD_MEM_GB", "PATH", "HOME", "HOSTNAME",
    "PWD", "LANG", "TERM", "SHLVL", "PYTHONPATH", "PYTHONUNBUFFERED", "LD_LIBRARY_PATH",
    "CUDA_VERSION", "CUDA_HOME", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_REQUIRE_CUDA", "NCCL_VERSION", "HF_HOME",
    "HF_HUB_ENABLE_HF_TRANSFER", "HF_HUB_OFFLINE", "TRANSFORMERS_CACHE", "TORCH_CUDA_ARCH_LIST",
    "PIP_NO_CACHE_DIR", "DEBIAN_FRONTEND", "TZ", "PORT", "PORT_HEALTH", "WORKER_MODE",
    "SGLANG_USE_CPU_ENGINE", "SGLANG_CACHE_DIR", "TVM_FFI_CACHE_DIR", "TRITON_CACHE_DIR",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NCCL_DEBUG", "PYTORCH_CUDA_ALLOC_CONF",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "HTTPS_PROXY", "NO_PROXY", "USER",
    "SHELL", "TMPDIR", "LC_ALL", "CUDA_DEVICE_ORDER", "NCCL_SOCKET_IFNAME", "MASTER_ADDR",
    "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "TOKENIZERS_PARALLELISM", "HF_HUB_CACHE",
    "TORCHINDUCTOR_CACHE_DIR", "CUDA_CACHE_PATH", "VLLM_CACHE_ROOT", "PUBLIC_KEY",
    "JUPYTER_PASSWORD", "SGLANG_HOST_IP", "SGLANG_PORT", "SGL_ENABLE_JIT_DEEPGEMM", "MAX_JOBS",
]


@pytest.fixture(scope="module")
def known(parser):
    return known_variables(parser)


def test_a_containers_own_variables_are_not_taken_for_misspellings(known):
    names = [*CONTAINER_ENV, *WORKER_VLLM_ENDPOINT, *BY_NAME, *variables()]
    assert misspellings(names, known) == []


@pytest.mark.parametrize("typo, meant", [
    ("MAX_MODEL_LENN", "MAX_MODEL_LEN"),
    ("CONTEXT_LENGHT", "CONTEXT_LENGTH"),
    ("MEM_FRACTION_STATC", "MEM_FRACTION_STATIC"),
    ("MAX_IMAGE_PER_REQUEST", "MAX_IMAGES_PER_REQUEST"),
    ("OPENAI_SERVED_MODEL_NAME_OVERIDE", "OPENAI_SERVED_MODEL_NAME_OVERRIDE"),
    ("GPU_MEMORY_UTILISATION", "GPU_MEMORY_UTILIZATION"),
])
def test_a_misspelt_setting_is_named_with_the_one_meant(known, typo, meant):
    assert misspellings([*CONTAINER_ENV, typo], known) == [(typo, meant)]


def test_the_migration_doc_carries_the_generated_table():
    doc = (PROJECT_ROOT / "docs" / "migrating-from-worker-vllm.md").read_text()
    assert markdown_table() in doc, "run `make docs`"
    rows = markdown_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [variable.name for variable in VARIABLES]


def test_a_long_value_is_logged_by_its_size_not_its_text():
    template = "{% for m in messages %}{{ m.content }}{% endfor %}" * 10
    (note,) = translate({"CUSTOM_CHAT_TEMPLATE": template}).notes
    assert note.message == ("CUSTOM_CHAT_TEMPLATE is worker-vllm's name: read as "
                            f"CHAT_TEMPLATE=<{len(template)} characters>")
