// Learning-rate schedules as transformers' get_scheduler: linear warmup from 0, then constant, linear decay to
// 0, or cosine decay to 0 (half a period), over `totalSteps` optimizer steps.

export type ScheduleKind = 'constant' | 'linear' | 'cosine';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['constant', 'linear', 'cosine'];

export interface Schedule {
  readonly kind: ScheduleKind;
  readonly warmupSteps: number;
  readonly totalSteps: number;
}

/** Multiplier of the base learning rate at optimizer step `step` (0-based: the first update uses step 0). */
export function lrFactor(s: Schedule, step: number): number {
  if (step < s.warmupSteps) return step / Math.max(1, s.warmupSteps);
  const progress = (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps);
  switch (s.kind) {
    case 'constant':
      return 1;
    case 'linear':
      return Math.max(0, 1 - progress);
    case 'cosine':
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
  }
}
