"""LocalGenerator: batched, left-padded, greedy at temperature 0; what `psw collect --generator hf:` calls."""

from __future__ import annotations

from extract.local_gen import LocalGenerator


def test_batched_greedy_generation_matches_one_at_a_time(tiny_path):
    generator = LocalGenerator(tiny_path, device="cpu", dtype="fp32", batch_size=4)
    conversations = [
        [{"role": "system", "content": "You are a bold person."}, {"role": "user", "content": "What now?"}],
        [{"role": "user", "content": "What should the manager do about the missing funds, honestly?"}],
        [{"role": "user", "content": "Hi"}],
    ]
    batched = generator.generate_batch(conversations, max_new_tokens=6, temperature=0.0)
    single = [generator.generate_batch([c], max_new_tokens=6, temperature=0.0)[0] for c in conversations]
    assert len(batched) == 3 and all(isinstance(t, str) and t for t in batched)
    assert batched == single
    sampled = generator.generate_batch(conversations[:1], max_new_tokens=4, temperature=1.0)
    assert len(sampled) == 1
