// The compose demo's step and seed counts and its complement noise, apart from the pipeline so that the CLI's flags show them without loading it.

/** Training steps of each adapter of `roadster demo compose`. */
export const DEFAULT_COMPOSE_DEMO_STEPS = 300;

/**
 * Seeds of `roadster demo compose`, each with its own samples and adapters: on validation e-mails one seed's
 * product kept anywhere from 85 % to 95 % of spam (docs/compose.md), so one run cannot say which side of 95 % the
 * expected share lies.
 */
export const DEFAULT_COMPOSE_DEMO_SEEDS = 3;

/**
 * Complement noise of the demo's subspace adapters A and B (σθ, σα): on 600 validation e-mails and passages per
 * class over three seeds, 0.2 kept 2.5 points more of spam in the product than no noise, with each adapter alone
 * as good (docs/compose.md).
 */
export const DEFAULT_COMPOSE_DEMO_NOISE = { theta: 0.2, alpha: 0.2 } as const;
