// RoPE parameters of a config.json and their inverse frequencies. Follows transformers'
// `modeling_rope_utils.py`: `_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters` and
// `_compute_llama3_parameters`, with `rope_type` read from `rope_type` or its older spelling `type`. Other
// rope types (dynamic NTK, yarn, longrope) change with sequence length or scale attention: they are refused.

import { FieldReader } from './fields.ts';

/** RoPE scaling of a model: a discriminated union on `type`. */
export type RopeScaling =
  | { readonly type: 'none' }
  /** Positions divided by `factor` (Kaiokendev's linear interpolation); same as inv_freq / factor. */
  | { readonly type: 'linear'; readonly factor: number }
  /** Llama 3.1's frequency-dependent interpolation. */
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositionEmbeddings: number;
    };

/** The rope types this library computes, as spelled in config.json. */
export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3'] as const;

/** What `ropeInvFreq` needs of a model config. */
export interface RopeParams {
  /** Rotary dimension: the head dimension (no partial rotary factor in the supported models). */
  readonly headDim: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling;
}

/**
 * Parses `rope_scaling` (transformers 4.x) or `rope_parameters` (transformers 5) of a config.json.
 * `null` or a missing key, and `rope_type: "default"`, mean no scaling.
 */
export function parseRopeScaling(config: FieldReader): RopeScaling {
  const key = config.has('rope_parameters') ? 'rope_parameters' : 'rope_scaling';
  if (!config.has(key)) return { type: 'none' };
  const rope = new FieldReader(config.obj[key], config.file, `${key}.`);
  const typeKey = rope.has('rope_type') ? 'rope_type' : 'type';
  const ropeType = rope.string(typeKey, key === 'rope_parameters' ? 'default' : undefined);
  switch (ropeType) {
    case 'default':
      return { type: 'none' };
    case 'linear':
      return { type: 'linear', factor: rope.positive('factor') };
    case 'llama3': {
      const lowFreqFactor = rope.positive('low_freq_factor');
      const highFreqFactor = rope.positive('high_freq_factor');
      if (highFreqFactor <= lowFreqFactor) {
        rope.fail('high_freq_factor', `greater than low_freq_factor (${lowFreqFactor})`);
      }
      return {
        type: 'llama3',
        factor: rope.positive('factor'),
        lowFreqFactor,
        highFreqFactor,
        originalMaxPositionEmbeddings: rope.int('original_max_position_embeddings'),
      };
    }
    default:
      return rope.fail(
        typeKey,
        `one of ${SUPPORTED_ROPE_TYPES.map((t) => `"${t}"`).join(', ')}`,
        ropeType === 'dynamic'
          ? 'Dynamic NTK scaling recomputes frequencies from the sequence length at run time, which the ' +
              'static ONNX graphs here cannot do: remove rope_scaling to run without it (exact up to ' +
              'max_position_embeddings).'
          : 'This rope type is not supported.',
      );
  }
}

/** The RoPE theta of a config.json: `rope_theta`, or `rope_parameters.rope_theta` (transformers 5). */
export function parseRopeTheta(config: FieldReader, fallback: number): number {
  if (config.has('rope_parameters')) {
    const rope = new FieldReader(config.obj.rope_parameters, config.file, 'rope_parameters.');
    if (rope.has('rope_theta')) return rope.positive('rope_theta');
  }
  return config.positive('rope_theta', fallback);
}

/**
 * Inverse frequencies of RoPE, `headDim / 2` values, in float64. transformers computes the same formulas in
 * float32, so its values differ from these by float32 rounding (about 1e-7 relative).
 */
export function ropeInvFreq(params: RopeParams): Float64Array {
  const dim = params.headDim;
  const half = dim / 2;
  const invFreq = new Float64Array(half);
  // inv_freq[i] = 1 / theta^(2i / dim)
  for (let i = 0; i < half; i++) invFreq[i] = 1 / params.ropeTheta ** ((2 * i) / dim);

  const scaling = params.ropeScaling;
  switch (scaling.type) {
    case 'none':
      return invFreq;
    case 'linear':
      // positions / factor, folded into the frequencies: inv_freq / factor
      for (let i = 0; i < half; i++) invFreq[i] /= scaling.factor;
      return invFreq;
    case 'llama3': {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldLen } = scaling;
      const lowFreqWavelen = oldLen / lowFreqFactor;
      const highFreqWavelen = oldLen / highFreqFactor;
      for (let i = 0; i < half; i++) {
        const f = invFreq[i];
        const wavelen = (2 * Math.PI) / f;
        if (wavelen > lowFreqWavelen) {
          invFreq[i] = f / factor; // long wavelengths: interpolate fully
        } else if (!(wavelen < highFreqWavelen)) {
          // medium: smooth = (oldLen / wavelen - low) / (high - low); mix of f / factor and f
          const smooth = (oldLen / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
          invFreq[i] = ((1 - smooth) * f) / factor + smooth * f;
        } // short wavelengths: unchanged
      }
      return invFreq;
    }
  }
}
