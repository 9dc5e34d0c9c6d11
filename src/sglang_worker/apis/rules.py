"""The field rules that several APIs share, grouped by what the fields do.

Each group is a mapping of SGLang's field names to ``Rule``s (``apis.base``); an API module
composes the groups its SGLang request model has and adds its own. The reasons are written for
the caller: they are the text of the 400 a refused field gets, and of the audit table in
SECURITY.md.
"""

from __future__ import annotations

from sglang_worker.apis.base import Rule, dropped, plain, refused

_SAMPLING = ("temperature", "top_p", "top_k", "min_p", "frequency_penalty", "presence_penalty",
             "repetition_penalty", "seed", "stop", "stop_token_ids", "stop_regex", "ignore_eos",
             "min_tokens", "max_tokens", "logit_bias", "logprobs", "top_logprobs",
             "skip_special_tokens", "no_stop_trim", "regex", "ebnf", "json_schema",
             "response_format", "n", "user", "stream", "stream_options", "model")
SAMPLING: dict[str, Rule] = {name: plain("sampling, decoding or output option")
                             for name in _SAMPLING}

OUTPUT_EXTRAS: dict[str, Rule] = {
    name: plain("asks for more detail in the answer (ids, usage details, metadata)")
    for name in ("return_token_ids", "return_cached_tokens_details", "return_meta_info",
                 "return_spec_tokens_details", "return_prompt_token_ids", "return_bytes",
                 "return_text_in_logprobs", "return_logprob", "logprob_start_len",
                 "top_logprobs_num", "token_ids_logprob", "return_flat_raw_output_top_logprobs",
                 "return_flat_raw_top_logprobs", "return_flat_raw_top_logprobs_b64",
                 "return_input_ids_in_sglext", "return_output_ids_in_sglext",
                 "return_sampling_mask", "sampling_logprobs_mode", "return_entropy")
}

SCHEDULING: dict[str, Rule] = {
    "priority": plain("scheduling priority; SGLang uses it only with --enable-priority-"
                      "scheduling, which the deployer sets"),
    "cache_salt": plain("keeps this request's prefix cache apart from other callers'"),
    "extra_key": plain("keeps this request's prefix cache apart from other callers'"),
    "custom_labels": plain("labels for SGLang's metrics"),
    "custom_params": plain("parameters for a custom logit processor; inert without one"),
    "watermark": plain("text watermarking option"),
    "max_thinking_tokens": plain("a cap on reasoning tokens"),
    "require_reasoning": plain("reasoning option"),
}

_DISAGGREGATION = refused("engine-internal routing for prefill/decode disaggregation and data "
                          "parallelism: it points SGLang at other hosts or ranks, which only the "
                          "deployment may choose")
ROUTING: dict[str, Rule] = {
    name: _DISAGGREGATION
    for name in ("bootstrap_host", "bootstrap_port", "bootstrap_room", "bootstrap_pair_key",
                 "disagg_prefill_dp_rank", "decode_tp_size", "data_parallel_rank",
                 "routed_dp_rank", "routing_key", "encoder_urls", "http_worker_ipc")
}

# A caller's own id, echoed as the response id: SGLang refuses a duplicate of one in flight
# ("Duplicate request ID detected"), so a reused id can fail only the request that reuses it.
_REQUEST_ID = plain("the caller's own request id, echoed as the response id; SGLang refuses a "
                    "duplicate of one in flight, which fails only the request that reuses it")
_STATE = refused("engine-side sessions keep state in one worker's memory, which RunPod's "
                 "routing cannot bring the next request back to; send the whole conversation "
                 "instead")
_LORA_NAME = plain("the name of a served LoRA adapter (LORA_ADAPTERS), checked against them "
                   "(pipeline.adapters); never a path, which would make SGLang load files or "
                   "hub repositories the deployment did not choose")
_LORA_ID = refused("an engine-internal adapter id; pick an adapter by its name in model")
_INTERNALS = refused("exposes or overrides the model's internals (hidden states, routed "
                     "experts, embeddings), which this worker does not serve")
_PROCESSOR = refused("per-request media processor settings would let a caller override the "
                     "image and video limits the worker has sized media for")
ENGINE_ONLY: dict[str, Rule] = {
    "rid": _REQUEST_ID,
    "request_id": _REQUEST_ID,
    "session_id": _STATE,
    "session_params": _STATE,
    "conversation_id": _STATE,
    "lora_path": _LORA_NAME,
    "lora_id": _LORA_ID,
    "custom_logit_processor": refused("serialized Python code run inside the engine"),
    "return_hidden_states": _INTERNALS,
    "return_routed_experts": _INTERNALS,
    "routed_experts_start_len": _INTERNALS,
    "return_indexer_topk": _INTERNALS,
    "images_config": _PROCESSOR,
    "video_config": _PROCESSOR,
    "mm_processor_kwargs": _PROCESSOR,
}

SIZING_KNOBS: dict[str, Rule] = {
    name: dropped("an image-sizing knob: the worker sizes every image to the deployment's "
                  "limits itself, so a caller cannot ask for more image tokens")
    for name in ("max_dynamic_patch", "min_dynamic_patch", "image_max_dynamic_patch",
                 "video_max_dynamic_patch")
}
