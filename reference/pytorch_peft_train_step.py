"""Reference measurement, not part of roadster: one PyTorch + PEFT RoAd training step, timed.

Measures the same work as `roadster bench train` (RoAd road_1, group size 64, all 7 linears of every decoder
layer, frozen float32 base, AdamW on the adapter, loss on every token) with transformers + PEFT, on the same
model folder, so that the two can be compared on one machine. Prints one JSON line.

    python reference/pytorch_peft_train_step.py MODEL_DIR [--batch 4] [--seq 256] [--steps 5]
        [--threads N] [--attn sdpa|eager] [--compile]
"""
import argparse, json, resource, statistics, time

import torch
from peft import RoadConfig, get_peft_model
from transformers import AutoModelForCausalLM

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--threads", type=int, default=0)
p.add_argument("--attn", default="sdpa")
p.add_argument("--compile", action="store_true")
a = p.parse_args()
if a.threads:
    torch.set_num_threads(a.threads)
torch.manual_seed(0)
model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation=a.attn)
model = get_peft_model(model, RoadConfig(variant="road_1", group_size=64, target_modules="all-linear"))
model.train()
trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
ids = torch.randint(0, model.config.vocab_size, (a.batch, a.seq))
step_fn = model
if a.compile:
    step_fn = torch.compile(model)

def step():
    out = step_fn(input_ids=ids, labels=ids)
    out.loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return out.loss.item()

t0 = time.perf_counter(); step(); first = time.perf_counter() - t0
times = []
for _ in range(a.steps):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
med = statistics.median(times)
print(json.dumps({
    "torch": torch.__version__, "threads": torch.get_num_threads(), "attn": a.attn, "compile": a.compile,
    "batch": a.batch, "seq": a.seq, "trainableParameters": trainable,
    "medianMs": med * 1000, "minMs": min(times) * 1000, "firstStepMs": first * 1000,
    "tokensPerSecond": a.batch * a.seq / med,
    "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
