"""The seed document's five ActivationSteerer checks, plus exceptions and padding."""

from __future__ import annotations

import pytest
import torch

from extract import ActivationSteerer
from extract.model_io import decoder_layers

LAYER = 1


def run(model, inputs):
    """Output of model.layers[LAYER] as the rest of the model sees it.

    A capture hook registered after the steerer's runs after it. (transformers 5 records
    `output_hidden_states` before user hooks run, so hidden_states[LAYER + 1] is unsteered.)
    """
    captured = []
    handle = decoder_layers(model)[LAYER].register_forward_hook(
        lambda module, args, output: captured.append(output[0] if isinstance(output, tuple) else output))
    try:
        with torch.inference_mode():
            model(**inputs)
    finally:
        handle.remove()
    return captured[0]


def n_hooks(model):
    return len(decoder_layers(model)[LAYER]._forward_hooks) + len(model._forward_pre_hooks)


@pytest.fixture(scope="module")
def setup(tiny):
    model, tokenizer = tiny
    text = tokenizer.apply_chat_template([{"role": "user", "content": "What should the manager do?"}],
                                         tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    torch.manual_seed(1)
    vector = torch.randn(model.config.hidden_size)
    return model, tokenizer, inputs, vector, run(model, inputs)


def test_steering_changes_the_layer_output(setup):
    model, _, inputs, vector, base = setup
    with ActivationSteerer(model, vector, coeff=1.0, layer=LAYER):
        steered = run(model, inputs)
    assert (steered[0, -1] - base[0, -1]).norm() > 0
    assert torch.allclose(steered - base, vector.expand_as(base), atol=1e-4)


def test_coeff_zero_is_a_no_op(setup):
    model, _, inputs, vector, base = setup
    with ActivationSteerer(model, vector, coeff=0.0, layer=LAYER):
        assert torch.equal(run(model, inputs), base)


def test_hook_is_gone_after_exit(setup):
    model, _, inputs, vector, base = setup
    before = n_hooks(model)
    with ActivationSteerer(model, vector, coeff=3.0, layer=LAYER):
        assert n_hooks(model) == before + 2
    assert n_hooks(model) == before
    assert torch.equal(run(model, inputs), base)


def test_response_steers_only_the_last_position(setup):
    model, _, inputs, vector, base = setup
    with ActivationSteerer(model, vector, coeff=1.0, layer=LAYER, positions="response"):
        steered = run(model, inputs)
    assert (steered[0, -1] - base[0, -1]).norm() > 0
    assert (steered[0, :-1] - base[0, :-1]).abs().max() < 1e-4


def test_prompt_steers_the_prefill_but_not_decoding(setup):
    model, tokenizer, inputs, vector, base = setup
    with ActivationSteerer(model, vector, coeff=1.0, layer=LAYER, positions="prompt"):
        steered = run(model, inputs)
    assert (steered[0, 0] - base[0, 0]).norm() > 0
    one_token = {"input_ids": inputs["input_ids"][:, :1], "attention_mask": inputs["attention_mask"][:, :1]}
    with ActivationSteerer(model, vector, coeff=1.0, layer=LAYER, positions="prompt"):
        steered_one = run(model, one_token)
    assert torch.equal(steered_one, run(model, one_token))


def test_exception_still_removes_the_hook(setup):
    model, _, inputs, vector, base = setup
    before = n_hooks(model)
    with pytest.raises(RuntimeError):
        with ActivationSteerer(model, vector, coeff=5.0, layer=LAYER):
            run(model, inputs)
            raise RuntimeError("boom")
    assert n_hooks(model) == before
    assert torch.equal(run(model, inputs), base)


def test_left_padding_is_not_steered(tiny):
    model, tokenizer = tiny
    tokenizer.padding_side = "left"
    inputs = tokenizer(["a much longer prompt about the manager and the funds", "short"],
                       return_tensors="pt", padding=True, add_special_tokens=False)
    pads = inputs["attention_mask"] == 0
    assert pads.any()
    base = run(model, inputs)
    vector = torch.ones(model.config.hidden_size)
    for positions in ("all", "prompt"):
        with ActivationSteerer(model, vector, coeff=2.0, layer=LAYER, positions=positions):
            steered = run(model, inputs)
        assert torch.equal(steered[pads], base[pads])
        assert (steered[~pads] - base[~pads]).abs().min() > 1.0


def test_tuple_outputs_are_steered_and_stay_tuples():
    layer = torch.nn.Linear(4, 4)

    class Block(torch.nn.Module):
        def forward(self, x):
            return (layer(x), "extra")

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([Block()])

        def forward(self, x):
            return self.layers[0](x)

    toy = Toy()
    x = torch.randn(1, 3, 4)
    base = toy(x)[0]
    with ActivationSteerer(toy, torch.ones(4), coeff=1.0, layer=0):
        out = toy(x)
    assert out[1] == "extra" and torch.allclose(out[0], base + 1)


def test_generate_with_steering_runs(tiny):
    model, tokenizer = tiny
    tokenizer.padding_side = "left"
    inputs = tokenizer(["hello there", "a longer prompt here"], return_tensors="pt", padding=True,
                       add_special_tokens=False)
    vector = torch.randn(model.config.hidden_size)
    with torch.inference_mode():
        plain = model.generate(**inputs, max_new_tokens=4, do_sample=False)
        with ActivationSteerer(model, vector, coeff=50.0, layer=LAYER, positions="response"):
            steered = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert plain.shape[0] == steered.shape[0] == 2
    assert not torch.equal(plain, steered)
