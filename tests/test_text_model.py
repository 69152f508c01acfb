"""The pieces of the default text model: the bidirectional padded path
(masked batches on the plain fused kernel) and ConcatPooling1D."""

import pytest
import torch

from lstmkit.errors import InputError
from lstmkit.layers import GRU, LSTM, Bidirectional, ConcatPooling1D


@pytest.mark.parametrize("cls", [LSTM, GRU])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_padded_path_is_the_packed_one(cls, num_layers, return_sequences):
    torch.manual_seed(0)
    make = lambda impl: Bidirectional(cls(4, return_sequences=return_sequences,  # noqa: E731
                                          num_layers=num_layers, masked_impl=impl))
    packed, padded = make("packed"), make("padded")
    packed.build((None, 3))
    padded.build((None, 3))
    padded.load_state_dict(packed.state_dict())
    x = torch.randn(5, 6, 3, dtype=torch.float64, requires_grad=True)
    packed.double(), padded.double()
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [0] * 2 + [1] * 4, [0] * 6,
                         [0, 1, 1, 0, 1, 1]]).bool()
    for training in (False, True):
        packed.train(training), padded.train(training)
        a, b = packed(x, mask=mask), padded(x, mask=mask)
        torch.testing.assert_close(a, b)
        grads = [torch.autograd.grad(y.square().sum(), [x, *m.parameters()])
                 for y, m in ((a, packed), (b, padded))]
        for g, h in zip(*grads):
            torch.testing.assert_close(g, h)


def test_concat_pooling_is_max_then_mean_over_real_steps():
    x = torch.tensor([[[1.0, -2.0], [3.0, 0.0], [9.0, 9.0]]])  # (1, 3, 2)
    mask = torch.tensor([[True, True, False]])
    out = ConcatPooling1D()(x, mask=mask)
    assert out.tolist() == [[3.0, 0.0, 2.0, -1.0]]
    assert ConcatPooling1D(["mean"])(x, mask=mask).tolist() == [[2.0, -1.0]]
    assert ConcatPooling1D().output_shape((None, 2)) == (4,)
    for bad in (["max", "max"], [], ["last"], "max"):
        with pytest.raises(InputError, match="poolings"):
            ConcatPooling1D(bad)
