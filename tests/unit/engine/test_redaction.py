"""Secrets never reach a log line."""

from sglang_worker.engine.redaction import Redactor, redact_argv


def test_secret_values_are_masked_in_output_lines():
    env = {"HF_TOKEN": "hf_abcdefghijkl", "API_KEY": "sk-local-123456", "PATH": "/usr/bin",
           "SHORT_KEY": "abc", "MODEL_NAME": "Qwen/Qwen2.5-VL-7B-Instruct",
           "TOKENIZER_NAME": "Qwen/Qwen2.5-VL-7B-Instruct"}
    redactor = Redactor(env)
    line = "server_args=ServerArgs(api_key='sk-local-123456', hf='hf_abcdefghijkl', p=/usr/bin)"
    assert redactor.line(line) == "server_args=ServerArgs(api_key='***', hf='***', p=/usr/bin)"
    assert redactor.line("abc Qwen/Qwen2.5-VL-7B-Instruct") == "abc Qwen/Qwen2.5-VL-7B-Instruct"
    assert Redactor({}).line("anything") == "anything"


def test_secret_flags_are_masked_in_a_command_line():
    argv = ["--model-path", "m", "--api-key", "sk-1", "--hf-token=abc", "--port", "1",
            "--tokenizer-path", "t"]
    assert redact_argv(argv) == ["--model-path", "m", "--api-key", "***", "--hf-token=***",
                                 "--port", "1", "--tokenizer-path", "t"]
