"""train_v2_ddp.py with FSDP2 allowed on CPU ranks, for the 2-rank gloo tests of sharded training.

accelerate turns a Trainer's FSDP plugin on only for accelerator ranks (state.py switches to
DistributedType.FSDP for MULTI_GPU, MULTI_XPU, ... but not MULTI_CPU): on CPU ranks `--fsdp` is
silently plain DDP, every rank holding every parameter. torch's FSDP2 itself runs on CPU with
gloo, so this launcher makes the one switch accelerate leaves out and then runs the real
trainer: the model is really sharded (the trainer's `sharding:` line says how much each rank
holds) and everything after the switch is accelerate's and torch's own FSDP2 code.
Run as torchrun's script (see tests/trainer/test_sharded_training.py)."""

import sys

from accelerate.state import AcceleratorState
from accelerate.utils import DistributedType

original_init = AcceleratorState.__init__


def init_with_cpu_fsdp(self, *args, fsdp_plugin=None, **kwargs):
    original_init(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
    if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
        self.distributed_type = DistributedType.FSDP
        if self._mixed_precision != "no":
            fsdp_plugin.set_mixed_precision(self._mixed_precision)
        self.fsdp_plugin = fsdp_plugin


AcceleratorState.__init__ = init_with_cpu_fsdp

from stratlog.trainer.train_v2_ddp import exit_without_finalizing, main  # noqa: E402
import torch  # noqa: E402

code = main(sys.argv[1:])
if torch.distributed.is_initialized():
    exit_without_finalizing(code)
sys.exit(code)
