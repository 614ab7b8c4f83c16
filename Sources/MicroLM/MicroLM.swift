// MicroLM: the on-device inference engine for llama-family GGUF models (the narration model).
//
// Folders:
//   GGUF/        the GGUF reader: a memory-mapped file, a bounds-checked parser with caps against hostile
//                headers, typed metadata, SHA-256 of model files
//   Tokenizer/   byte-level BPE from the file's metadata, llama.cpp's pre-tokenizers, streaming decoding
//   Llama/       hyper-parameters, zero-copy weight views, the forward pass, LoRA adapters, run buffers
//   Quant/       the tensor formats computed with and their scalar reference code
//   Kernels/     entry points to the C kernels (CMicroLMKernels: SIMD matmuls, a persistent thread pool)
//   Generation/  LanguageModel (a loaded model), InferenceSession (KV cache, prefill, generation),
//                one generation loop (sampled, or greedy steered by a TextConstraint), sampling options
//                and sampler, chat templates, token streams
//   ModelLocator.swift  where the model file is found
//
// Semantics callers rely on:
//   - a model file that is not what it claims gives a GGUFError or MicroLMError, never a crash or a hang.
//   - greedy decoding gives llama.cpp's tokens for the same model (the golden tests in shared/golden).
//   - an InferenceSession runs one request at a time (callers queue); a generation can be cancelled.
