"""Training batches of time series, jittered and scaled anew each epoch.

Small training sets of sensor-like series (the UCR archive holds many of a
few dozen samples) overfit a network in a few epochs; two label-preserving
transformations of the scaled input make each epoch show new variants
(Um et al. 2017, "Data augmentation of wearable sensor data"; Iwana & Uchida
2021, "An empirical survey of data augmentation for time series
classification", where jittering and scaling are the two that never hurt
on average):

    x'_t = s * x_t + e_t,   s ~ N(1, scale^2) per sample and feature,
                            e_t ~ N(0, jitter^2) per step and feature

Both are in the SeriesScaler's units (per-feature standard deviations), so
one setting fits any data set. Only the real steps change: padding stays
zero, so masks and bucketing work as in SequenceBatches.
"""

import torch

from ..errors import InputError
from .sources import SequenceBatches


def check_augmentation(jitter, scale):
    """Refuse a jitter or scale that is not a number in [0, 10), naming it."""
    for value, argument in ((jitter, "jitter"), (scale, "scale")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                0 <= value < 10):
            raise InputError(f"{argument} must be a number in [0, 10), got {value!r}")


class AugmentedSequenceBatches(SequenceBatches):
    """SequenceBatches whose batches are jittered and scaled (see the module
    docstring). The draws come from the source's own generator, after the
    epoch's order, so a seed repeats a run and `state_dict` resumes it.

    Args:
        jitter: the standard deviation of the noise added to each value.
        scale: the standard deviation of each sample's per-feature factor
            around 1.
        The others: SequenceBatches'.
    """

    def __init__(self, sequences, y=None, batch_size=32, shuffle=True, seed=0, bucket=True,
                 jitter=0.0, scale=0.0, length_noise=0.0):
        check_augmentation(jitter, scale)
        super().__init__(sequences, y, batch_size, shuffle, seed, bucket, length_noise)
        self.jitter, self.scale = float(jitter), float(scale)

    def batches(self, epoch, start=0, rank=0, world=1):
        # the draws are made for the whole batch, then each process takes its part: under
        # torchrun the processes see the noise one process would (the same generator state)
        for i, index in enumerate(self.index_batches()):
            factor, noise = self.draw(index)
            if i < start:  # a resumed epoch: the steps done drew too
                continue
            part = torch.arange(len(index)).tensor_split(world)[rank]
            x, y, mask = SequenceBatches.batch(self, index[part])  # x (n, T_part, F)
            if factor is not None:
                x = self.apply(x, mask, factor[part], noise[part, :x.shape[1]])
            yield x, y, mask

    def batch(self, index):
        """(x, y, mask) of the samples `index`, padded after their real
        steps, then jittered and scaled."""
        x, y, mask = super().batch(index)
        return self.apply(x, mask, *self.draw(index)), y, mask

    def draw(self, index):
        """Each sample's factor (N, 1, F) and noise (N, T, F), T the longest of
        `index`; nothing drawn (None, None) without augmentation."""
        if self.features is None or not (self.jitter or self.scale):
            return None, None
        n, steps = len(index), int(self.lengths[index].max())
        factor = 1 + self.scale * torch.randn(n, 1, self.features, generator=self.generator)
        noise = self.jitter * torch.randn(n, steps, self.features, generator=self.generator)
        return factor, noise

    @staticmethod
    def apply(x, mask, factor, noise):
        if factor is None:
            return x
        return torch.where(mask[..., None], x * factor + noise, 0)  # padding stays zero

    def signature(self):
        return {**super().signature(), "jitter": self.jitter, "scale": self.scale}
