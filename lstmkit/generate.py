"""Text generation from a language model, one token at a time.

`generate` reads the prompt once, as one chunk through `model.step`, and
then feeds back each sampled token with the state `step` returned, so the
prefix is never recomputed and a caller prints each token as it comes.

Sampling, in the order Hugging Face's `generate` applies it:
    1. temperature: the logits are divided by T (fastai/fastai#1264 shipped
       a formula that was not this); T = 0 is greedy decoding (the argmax);
    2. top_k: keep the k most probable tokens;
    3. top_p (nucleus sampling, Holtzman et al. 2020): keep the fewest most
       probable tokens whose probabilities sum to at least p;
    4. draw from the renormalised distribution with a generator seeded by
       `seed`, so a seed gives the same text.

The model's softmax output p is turned back into logits as log p: softmax
(log p / T) is softmax(z / T) for the logits z, the constant log-sum-exp
cancelling.
"""

import math
import numbers

import torch

from .errors import InputError, InputTypeError


def check_sampling(temperature, top_k, top_p):
    """The sampling settings, checked: InputError naming the bad one."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not (
            math.isfinite(temperature) and temperature >= 0):
        raise InputError(f"temperature must be a number >= 0 (0: greedy), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral)
                              or top_k < 1):
        raise InputError(f"top_k must be an int of at least 1, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, numbers.Real)
                              or not 0 < top_p <= 1):
        raise InputError(f"top_p must be a number in (0, 1], got {top_p!r}")


def filter_logits(logits, top_k=None, top_p=None):
    """The logits (V,) with -inf outside the top-k and top-p support."""
    logits = logits.clone()
    if top_k is not None and top_k < logits.numel():
        kept = torch.topk(logits, top_k).indices
        dropped = torch.ones_like(logits, dtype=torch.bool)
        dropped[kept] = False
        logits[dropped] = -torch.inf
    if top_p is not None and top_p < 1:
        probs, order = torch.sort(torch.softmax(logits, -1), descending=True)
        before = probs.cumsum(-1) - probs  # the mass of the more probable tokens
        dropped = before >= top_p  # kept: those needed to reach p (the first always)
        logits[order[dropped]] = -torch.inf
    return logits


def distribution(logits, temperature=1.0, top_k=None, top_p=None):
    """The probabilities (V,) a token is drawn from: softmax(logits / T)
    restricted to the top-k and top-p support and renormalised; for T = 0,
    all the mass on the argmax (greedy)."""
    if temperature == 0:
        return torch.nn.functional.one_hot(torch.argmax(logits), logits.numel()).to(logits.dtype)
    return torch.softmax(filter_logits(logits / temperature, top_k, top_p), -1)


def sample(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """One token id drawn from logits (V,) under the sampling settings."""
    if temperature == 0:
        return int(torch.argmax(logits))
    probs = distribution(logits, temperature, top_k, top_p)
    return int(torch.multinomial(probs, 1, generator=generator))


def generate_ids(model, prompt_ids, length, temperature=1.0, top_k=None, top_p=None, seed=None):
    """Yield `length` token ids sampled after `prompt_ids` (a non-empty
    list), the state carried from token to token."""
    check_sampling(temperature, top_k, top_p)
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
        raise InputError(f"length must be an int >= 0, got {length!r}")
    if not prompt_ids:
        raise InputError("the prompt is empty: give at least one token to start from")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InputError(f"seed must be a non-negative int, got {seed!r}")
    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else int(torch.randint(2**62, ())))
    probs, state = model.step(torch.tensor([prompt_ids]), None)  # the prefix, read once
    for _ in range(length):
        logits = torch.log(probs[0, -1].float().cpu())  # (V,)
        token = sample(logits, temperature, top_k, top_p, generator)
        yield token
        probs, state = model.step(torch.tensor([[token]]), state)  # (1, 1, V)


def generate(model, prompt, length, temperature=1.0, top_k=None, top_p=None, seed=None,
             vocabulary=None, on_unknown=None):
    """Yield the text of `length` tokens generated after `prompt`.

    Args:
        model: a language model (Embedding ... Dense(V, softmax)), e.g. one
            `lstmkit lm train` saved.
        prompt: the text to start from. Characters outside a character
            model's vocabulary are refused, naming them; words outside a
            word model's become `<unk>`, and `on_unknown(words)` is called
            with them (the command line prints a note).
        length: tokens to generate.
        temperature, top_k, top_p, seed: see the module's docstring.
        vocabulary: a CorpusVocabulary; default the model's preprocessing.

    Each item is one token's text: a character, or a word with its space
    (a new line for `<eos>`).
    """
    vocabulary = vocabulary if vocabulary is not None else getattr(model, "preprocessing", None)
    if vocabulary is None or not hasattr(vocabulary, "decode_one"):
        raise InputTypeError("generate needs the model's vocabulary: a model saved by "
                             "`lstmkit lm train`, or vocabulary=")
    check_sampling(temperature, top_k, top_p)
    ids, unknown = vocabulary.encode(prompt)
    if unknown and on_unknown is not None:
        on_unknown(unknown)
    model.eval()
    for token in generate_ids(model, ids, length, temperature, top_k, top_p, seed):
        yield vocabulary.decode_one(token)
