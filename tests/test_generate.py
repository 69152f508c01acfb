"""Sampling and generation: the temperature formula, the top-k and top-p
support, seeds, greedy decoding, and the state carried from token to token."""

import math

import pytest
import torch

from lstmkit.data.corpus import EOS, UNK, CorpusVocabulary
from lstmkit.errors import InputError
from lstmkit.generate import distribution, filter_logits, generate, generate_ids, sample
from lstmkit.tasks.lm import build_language_model


@pytest.fixture
def char_model():
    torch.manual_seed(0)
    vocabulary = CorpusVocabulary(list("abcde :R"), "char")
    model = build_language_model(len(vocabulary), units=12, embedding=6, layers=2,
                                 init_range=0.5, device="cpu")
    model.preprocessing = vocabulary
    return model


def test_temperature_divides_the_logits():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    for t in (0.5, 1.0, 2.0, 7.0):
        expected = torch.exp(logits / t) / torch.exp(logits / t).sum()
        torch.testing.assert_close(distribution(logits, t), expected)
    # not fastai#1264's formula (probabilities raised to 1/T without renormalising, or
    # logits multiplied by T): at T = 2 the top token gets exp(1) / sum exp(z / 2)
    p = distribution(logits, 2.0)
    assert math.isclose(float(p[0]), math.exp(1) / sum(math.exp(z / 2) for z in (2, 1, 0, -1)),
                        rel_tol=1e-6)


def test_top_k_keeps_exactly_the_k_most_probable():
    logits = torch.tensor([0.1, 3.0, -2.0, 2.5, 1.0, 2.9])
    for k, kept in ((1, {1}), (2, {1, 5}), (3, {1, 3, 5}), (6, set(range(6))), (10, set(range(6)))):
        p = distribution(logits, 1.0, top_k=k)
        assert set(torch.nonzero(p).flatten().tolist()) == kept
        assert math.isclose(float(p.sum()), 1.0, rel_tol=1e-6)
    # renormalised: the kept tokens keep their ratios
    p = distribution(logits, 1.0, top_k=2)
    assert math.isclose(float(p[1] / p[5]), math.exp(0.1), rel_tol=1e-5)


def test_top_p_keeps_the_fewest_tokens_reaching_p():
    probs = torch.tensor([0.125, 0.5, 0.125, 0.25])  # exact in binary
    logits = torch.log(probs)
    for p, kept in ((0.5, {1}), (0.51, {1, 3}), (0.75, {1, 3}), (0.76, {0, 1, 2, 3}),
                    (0.1, {1}), (1.0, {0, 1, 2, 3})):
        support = set(torch.nonzero(distribution(logits, 1.0, top_p=p)).flatten().tolist())
        if p == 0.76:  # the two 0.125s tie; the sort keeps one of them, then both reach
            assert {1, 3} < support
            continue
        assert support == kept, p
    # after the temperature: T = 100 flattens the distribution, so p = 0.5 keeps half
    assert torch.count_nonzero(distribution(logits, 100.0, top_p=0.5)) == 2


def test_top_k_then_top_p_and_the_filtered_logits():
    logits = torch.tensor([1.0, 4.0, 3.0, 2.0])
    filtered = filter_logits(logits, top_k=3, top_p=0.5)
    assert torch.isinf(filtered[0]) and filtered[1] == 4.0


def test_temperature_zero_is_greedy_and_small_temperatures_approach_it():
    logits = torch.tensor([0.3, 1.2, 1.1, -4.0])
    g = torch.Generator().manual_seed(0)
    assert sample(logits, 0.0) == 1
    assert all(sample(logits, 1e-3, generator=g) == 1 for _ in range(50))
    assert torch.equal(distribution(logits, 0.0), torch.tensor([0.0, 1.0, 0.0, 0.0]))


def test_sample_draws_from_the_distribution_with_the_generator():
    logits = torch.tensor([0.0, 1.0, 2.0])
    draws = [sample(logits, 1.0, generator=torch.Generator().manual_seed(s)) for s in range(8)]
    expected = [int(torch.multinomial(distribution(logits, 1.0), 1,
                                      generator=torch.Generator().manual_seed(s)))
                for s in range(8)]
    assert draws == expected
    draws = [sample(logits, 1.0, generator=torch.Generator().manual_seed(s)) for s in range(3000)]
    counts = torch.bincount(torch.tensor(draws), minlength=3)
    torch.testing.assert_close(counts / 3000, distribution(logits, 1.0), atol=0.03, rtol=0)


def test_a_seed_gives_the_same_text(char_model):
    first = "".join(char_model.generate("Ra", 40, 1.0, seed=5))
    assert first == "".join(generate(char_model, "Ra", 40, 1.0, seed=5))
    assert first != "".join(generate(char_model, "Ra", 40, 1.0, seed=6))
    assert len(first) == 40 and set(first) <= set("abcde :R")


def test_greedy_generation_equals_recomputing_the_whole_prefix(char_model):
    """The state carried from token to token gives what rereading the
    whole text each time gives (the prefix is read once)."""
    prompt = [7, 0, 1]
    generated = list(generate_ids(char_model, prompt, 15, temperature=0.0))
    text = list(prompt)
    char_model.eval()
    with torch.no_grad():
        for _ in range(15):
            probs = char_model(torch.tensor([text]))  # (1, T, V), from the start each time
            text.append(int(probs[0, -1].argmax()))
    assert generated == text[len(prompt):]


def test_prompts_outside_the_vocabulary(char_model):
    with pytest.raises(InputError, match=r"outside the model's vocabulary: 'x' 'z'"):
        next(generate(char_model, "zax", 5))
    vocabulary = CorpusVocabulary(["the", "cat", EOS, UNK], "word", UNK)
    torch.manual_seed(0)
    model = build_language_model(4, units=8, device="cpu")
    model.preprocessing = vocabulary
    noted = []
    words = list(generate(model, "the dog sat", 6, 0.0, on_unknown=noted.append))
    assert noted == [["dog", "sat"]] and len(words) == 6
    assert all(w == "\n" or w.startswith(" ") for w in words)


@pytest.mark.parametrize("settings, message", [
    ({"temperature": -0.1}, "temperature must be a number >= 0"),
    ({"top_p": 0.0}, r"top_p must be a number in \(0, 1\]"),
    ({"top_p": 1.5}, r"top_p must be a number in \(0, 1\]"),
    ({"top_k": 0}, "top_k must be an int of at least 1"),
])
def test_bad_sampling_settings_are_refused(char_model, settings, message):
    with pytest.raises(InputError, match=message):
        next(generate(char_model, "ab", 5, **{"temperature": 1.0, **settings}))
