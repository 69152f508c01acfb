"""The training loop's view of the processes it runs in.

A decision that each process could reach alone (stop on a non-finite loss or
Ctrl-C, stop early, skip a batch) is taken by all of them together, at the
same step, so no process waits forever for one that left; side effects
(printing, checkpoints, saving) happen on the main process only; sums shown
to the user cover every process's samples (Lightning's
`strategy.reduce_boolean_decision`, nanoGPT's `master_process`).

`SingleProcess` is the group of one, where every operation is free; a
group over `torch.distributed` implements the same four methods with
collectives.
"""


class SingleProcess:
    """The group of one process: decisions are this process's own.

    A group has `rank`, `world_size` and `is_main`, and:
        any(**flags) -> {name: bool}, each True if that flag is True on any process
        sum_(tensor) -> the tensor, summed over processes in place
        gather(obj) -> [obj of process 0, obj of process 1, ...] on every process
    Each is a collective: every process calls it at the same point.
    """

    rank = 0
    world_size = 1

    @property
    def is_main(self):
        return self.rank == 0

    def any(self, **flags):
        return {name: bool(flag) for name, flag in flags.items()}

    def sum_(self, tensor):
        return tensor

    def gather(self, obj):
        return [obj]
