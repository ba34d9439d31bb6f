// The onnxruntime-node build: native CPU kernels with ORT's contrib operators, threads from the core count,
// external-data models through a temporary folder, SHA-256 from node:crypto.

import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Hasher, OrtSession, RuntimeBackend } from './backend.ts';

/** onnxruntime-node on the CPU. */
export const NODE_BACKEND: RuntimeBackend = {
  name: 'onnxruntime-node',
  contribOps: true,
  executionProviders: ['cpu'],
  defaultThreads: () => availableParallelism(),
  async createSession(model, options) {
    const sessionOptions = options as ort.InferenceSession.SessionOptions;
    if (model.kind === 'inline') return { session: (await ort.InferenceSession.create(model.bytes, sessionOptions)) as OrtSession };
    const tempDir = await mkdtemp(join(tmpdir(), 'roadster-'));
    const cleanup = () => rm(tempDir, { recursive: true, force: true });
    try {
      const modelPath = join(tempDir, 'model.onnx');
      await writeFile(modelPath, model.onnxBytes);
      await writeFile(join(tempDir, model.location), model.externalData);
      return { session: (await ort.InferenceSession.create(modelPath, sessionOptions)) as OrtSession, cleanup };
    } catch (e) {
      await cleanup();
      throw e;
    }
  },
  tensor: (type, data, dims) => new ort.Tensor(type, data as never, dims),
  hasher(): Hasher {
    const h = createHash('sha256');
    return { update: (d) => void h.update(d), digest: () => h.digest('hex') };
  },
};
