"""Writes test/fixtures/peft-seqcls/: a PEFT SEQ_CLS RoAd adapter with its score head, from the real libraries.

    python reference/peft_seqcls_fixture.py TINY_LLAMA_DIR OUT_DIR

The tiny Llama of test/fixtures/peft/models/tiny-llama becomes LlamaForSequenceClassification with 3 labels
(pad_token_id 255, a token the inputs never use otherwise); PEFT wraps it with RoadConfig(task_type="SEQ_CLS",
road_1, group_size 8, q_proj and v_proj), which adds the score head to modules_to_save. The RoAd parameters and
the head get random values (seeded) so that every path is exercised. The float64 run patches the three places
where transformers computes in float32 whatever the model dtype (RoPE's cos/sin, RMSNorm, the eager softmax). Written: seqcls_llama_road1_g8_qv.json
(inputs, float32 and float64 logits, losses and full gradients, the merged model's logits), adapter/ (PEFT's
save_pretrained) and merged/ (merge_and_unload().save_pretrained).
"""
import json, os, sys

import torch
from peft import PeftModel, RoadConfig, get_peft_model
from transformers import AutoModelForSequenceClassification
from transformers.models.llama import modeling_llama

src, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
torch.set_num_threads(1)
labels_names = ["negative", "neutral", "positive"]

def rope_float64(self, x, position_ids):
    # transformers computes RoPE's cos/sin in float32 whatever the model dtype; the float64 run computes them in
    # float64 (inv_freq too), so that its numbers are float64 throughout and can pin a 1e-9 comparison
    dim = self.inv_freq.shape[0] * 2
    inv = 1.0 / (self.config.rope_parameters["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = inv[None, :, None] * position_ids[:, None, :].double()
    emb = torch.cat((freqs.transpose(1, 2), freqs.transpose(1, 2)), dim=-1)
    return (emb.cos() * self.attention_scaling).to(x.dtype), (emb.sin() * self.attention_scaling).to(x.dtype)

def rms_norm_float64(self, hidden_states):
    # transformers' RMSNorm casts to float32; float64 throughout here
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))

def eager_attention_float64(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    # transformers' eager attention takes the softmax in float32; float64 throughout here
    key_states = modeling_llama.repeat_kv(key, module.num_key_value_groups)
    value_states = modeling_llama.repeat_kv(value, module.num_key_value_groups)
    weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = torch.softmax(weights, dim=-1)
    return torch.matmul(weights, value_states).transpose(1, 2).contiguous(), weights

def build(dtype):
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        src, num_labels=3, id2label=dict(enumerate(labels_names)), label2id={n: i for i, n in enumerate(labels_names)},
        pad_token_id=255, dtype=dtype, attn_implementation="eager")
    if dtype == torch.float64:
        rotary = model.model.rotary_emb
        rotary.forward = rope_float64.__get__(rotary)
        modeling_llama.LlamaRMSNorm.forward = rms_norm_float64
        modeling_llama.eager_attention_forward = eager_attention_float64
    config = RoadConfig(task_type="SEQ_CLS", variant="road_1", group_size=8, target_modules=["q_proj", "v_proj"])
    peft = get_peft_model(model, config)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if not p.requires_grad:
                continue
            # float32 values, so that the float64 run uses exactly the saved (float32) adapter
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32).double()
            if "road_theta" in name:
                p.copy_((0.5 * noise).float())
            elif "road_alpha" in name:
                p.copy_((1 + 0.5 * noise).float())
            else:  # the score head's trainable copy
                p.copy_((0.3 * noise).float())
    return peft

input_ids = torch.tensor([[1, 5, 9, 20, 7, 3, 11, 4], [4, 4, 8, 15, 16, 255, 255, 255], [30, 2, 99, 100, 255, 255, 255, 255]])
attention_mask = (input_ids != 255).long()
labels = torch.tensor([2, 0, 1])

def run(peft):
    peft.train()
    for p in peft.parameters():
        p.grad = None
    o = peft(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    o.loss.backward()
    grads = {n: p.grad.tolist() for n, p in peft.named_parameters() if p.requires_grad}
    return o.logits.tolist(), o.loss.item(), grads

result = {"meta": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                   "peft": __import__("peft").__version__, "labels": labels_names, "pad_token_id": 255,
                   "road": {"variant": "road_1", "group_size": 8, "target_modules": ["q_proj", "v_proj"]},
                   "loss": "mean cross-entropy of the class logits of each row's last non-pad token"},
          "inputs": {"input_ids": input_ids.tolist(), "attention_mask": attention_mask.tolist(), "labels": labels.tolist()}}
for name, dtype in [("float32", torch.float32), ("float64", torch.float64)]:
    peft = build(dtype)
    logits, loss, grads = run(peft)
    result[name] = {"logits": logits, "loss": loss, "grads": grads}
    if name == "float32":
        result["trainable_parameter_names"] = [n for n, p in peft.named_parameters() if p.requires_grad]
        peft.save_pretrained(os.path.join(out, "adapter"))
        peft.eval()
        with torch.no_grad():
            reloaded = PeftModel.from_pretrained(
                AutoModelForSequenceClassification.from_pretrained(src, num_labels=3, pad_token_id=255, dtype=dtype, attn_implementation="eager"),
                os.path.join(out, "adapter"))
            result["reload_logits"] = reloaded(input_ids=input_ids, attention_mask=attention_mask).logits.tolist()
            merged = peft.merge_and_unload()
            result["merged_logits"] = merged(input_ids=input_ids, attention_mask=attention_mask).logits.tolist()
            merged.save_pretrained(os.path.join(out, "merged"))
with open(os.path.join(out, "seqcls_llama_road1_g8_qv.json"), "w") as f:
    json.dump(result, f)
print(json.dumps({"loss32": result["float32"]["loss"], "loss64": result["float64"]["loss"], "names": result["trainable_parameter_names"]}))
