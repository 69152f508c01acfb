"""The training loop's view of the processes it runs in.

A decision that each process could reach alone (stop on a non-finite loss or
Ctrl-C, stop early, skip a batch) is taken by all of them together, at the
same step, so no process waits forever for one that left; side effects
(printing, checkpoints, saving) happen on the main process only; sums shown
to the user cover every process's samples (Lightning's
`strategy.reduce_boolean_decision`, nanoGPT's `master_process`).

`SingleProcess` is the group of one, where every operation is free.
`TorchProcessGroup` is PyTorch's own distributed engine: a run started by
`torchrun` (its environment variables RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT) joins it with `join_launch`, on NCCL for CUDA and
Gloo for the CPU, and trains with DistributedDataParallel.
"""

import atexit
import datetime
import logging
import os
import signal
import sys
import threading
import time

import torch
import torch.distributed as dist

# how long a collective waits for a process before the run fails (seconds);
# torchrun itself stops the job at once when a process exits with an error
TIMEOUT_SECONDS = int(os.environ.get("LSTMKIT_DIST_TIMEOUT", "300"))


class SingleProcess:
    """The group of one process: decisions are this process's own.

    A group has `rank`, `world_size` and `is_main`, and:
        any(**flags) -> {name: bool}, each True if that flag is True on any process
        sum_(tensor) -> the tensor, summed over processes
        gather(obj) -> [obj of process 0, obj of process 1, ...] on every process
        wrap(model) -> what runs the training steps (the model itself here)
    Each but wrap is a collective: every process calls it at the same point.
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

    def wrap(self, model):
        return model


class TorchProcessGroup(SingleProcess):
    """The processes of the default torch.distributed group."""

    def __init__(self):
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        # NCCL reduces CUDA tensors only; Gloo, CPU ones
        self.device = torch.device("cuda") if dist.get_backend() == "nccl" else torch.device("cpu")

    def any(self, **flags):
        values = torch.tensor([float(bool(f)) for f in flags.values()], device=self.device)
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return dict(zip(flags, (values > 0).tolist()))

    def sum_(self, tensor):
        moved = tensor.to(self.device)
        dist.all_reduce(moved)
        return moved.to(tensor.device)

    def gather(self, obj):
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, obj)  # between this job's own processes, in memory
        return gathered

    def wrap(self, model):
        """DistributedDataParallel around the built model: it broadcasts the
        main process's weights, then averages gradients in each backward.
        The RNN weights are flattened once here, not per step (the
        DataParallel warnings of pytorch/pytorch#24155, #32860)."""
        for module in model.modules():
            if isinstance(module, torch.nn.RNNBase):
                module.flatten_parameters()
        device = next(model.parameters()).device
        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None)


def launched_by_torchrun():
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


_watching = False
# the process id of the launcher that started this run's processes (set by `launch`)
LAUNCHER_VARIABLE = "LSTMKIT_LAUNCHER_PID"


def end_with_launcher(poll_seconds=1.0):
    """Under torchrun: end this process as torchrun stops one (SIGTERM) if
    the launcher that started it dies. torchrun starts each process in a
    session of its own, so a launcher killed outright (`kill -9`) would
    otherwise leave them training on, and writing, with nobody to see.
    The launcher is the process `launch` names in LAUNCHER_VARIABLE, so that
    a process still starting when its launcher died (its parent already
    init, the rendezvous store gone) ends too; under a torchrun of its own,
    this process's parent. Once per process; nothing outside torchrun."""
    global _watching
    if _watching or not launched_by_torchrun():
        return
    _watching = True
    named = os.environ.get(LAUNCHER_VARIABLE, "")
    launcher = int(named) if named.isdigit() else os.getppid()

    def watch():
        while os.getppid() == launcher:
            time.sleep(poll_seconds)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="lstmkit-launcher-watch", daemon=True).start()


def join_launch(device):
    """Join the process group torchrun's environment describes, once (NCCL
    when training on CUDA, Gloo on the CPU); each process takes the GPU of
    its LOCAL_RANK. Does nothing outside torchrun."""
    if not launched_by_torchrun() or dist.is_initialized():
        return
    end_with_launcher()
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo",
                            timeout=datetime.timedelta(seconds=TIMEOUT_SECONDS))
    # leave the group before the interpreter ends: a group torn down at exit
    # by its destructor can abort the process ("terminate called without an
    # active exception", exit code -6) while its threads still run
    atexit.register(leave)


def leave():
    """Leave the process group, if this process joined one, together with
    the others (a process that failed has been stopped by torchrun)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def is_main_process():
    """Whether this process prints and writes: rank 0 of a torchrun launch
    (before or after it joins the group), or a process alone."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def launch(nproc, module_arguments):
    """Run `python -m lstmkit ARGS` in `nproc` processes on this machine
    through torchrun's own launcher (standalone rendezvous), called here
    rather than as a command so that a failure ends in one line, not its
    traceback. Returns the exit code: 0; 2 where a process refused its
    input (it has said why); 130 when interrupted; else the failed process's
    code, or 1 for a signal.

    As torchrun does, each process gets one thread where OMP_NUM_THREADS is
    unset. The launcher's own log shows only critical messages unless
    LOGLEVEL says otherwise (LOGLEVEL=WARNING: torchrun's usual).
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # torchrun's default, without its banner
    if "LOGLEVEL" not in os.environ:  # the level torch's launcher reads (some of its loggers)
        os.environ["LOGLEVEL"] = "CRITICAL"
        logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # the others
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m",
                                         "lstmkit", *module_arguments])
    before = os.environ.get(LAUNCHER_VARIABLE)
    os.environ[LAUNCHER_VARIABLE] = str(os.getpid())  # torchrun's agent runs in this process
    try:
        run(args)
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        if failure.exitcode != 2:  # a refused input has been explained by the process itself
            how = (f"signal {failure.signal_name()}" if failure.exitcode < 0
                   else f"exit code {failure.exitcode}")
            print(f"lstmkit: process {rank} of {nproc} failed ({how}); the others were stopped",
                  file=sys.stderr)
        return failure.exitcode if failure.exitcode > 0 else 1
    except (SignalException, KeyboardInterrupt):
        print("lstmkit: interrupted; the processes were stopped", file=sys.stderr)
        return 130
    finally:  # the processes have copied it; a later torchrun from this process names its own
        if before is None:
            os.environ.pop(LAUNCHER_VARIABLE, None)
        else:
            os.environ[LAUNCHER_VARIABLE] = before
    return 0


def current_group():
    """The processes training together: torch.distributed's group once
    joined, else this process alone."""
    if dist.is_available() and dist.is_initialized():
        return TorchProcessGroup()
    return SingleProcess()
