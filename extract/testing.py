"""Tiny offline models for tests and the benchmark: random weights, a tokenizer
trained in code, a ChatML template set in code. Nothing is downloaded."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]

BASE_CORPUS = [
    "You are a helpful assistant. Answer the question clearly and briefly.",
    "Pretend you're a cautious person. Pretend you're a bold person.",
    "The quick brown fox jumps over the lazy dog while the cat sleeps.",
    "What is the right response? I think we should report the problem honestly.",
    "Numbers 0 1 2 3 4 5 6 7 8 9 and punctuation , . ; : ! ? ' \" ( ) - should be known.",
]


def tiny_tokenizer(corpus: list[str] | None = None, vocab_size: int = 600) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on `corpus`: it can encode any text, offline."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus or []) + BASE_CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<|pad|>",
        eos_token="<|im_end|>",
        bos_token=None,
        unk_token=None,
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def tiny_model(
    vocab_size: int,
    hidden_size: int = 64,
    num_layers: int = 3,
    seed: int = 0,
    intermediate_size: int | None = None,
    num_heads: int = 4,
) -> Qwen2ForCausalLM:
    """A random-weight Qwen2 decoder in fp32, eval mode."""
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        pad_token_id=0,
        eos_token_id=3,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config).eval()
    # random init leaves residual norms small; a larger embedding scale makes steering
    # effects and projections well away from float noise
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0.0, 1.0)
    return model


def tiny_model_and_tokenizer(corpus: list[str] | None = None, num_layers: int = 3, seed: int = 0):
    tokenizer = tiny_tokenizer(corpus)
    model = tiny_model(len(tokenizer), num_layers=num_layers, seed=seed)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer
