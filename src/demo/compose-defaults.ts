// The compose demo's step count, apart from the pipeline so that the CLI's flags show it without loading it.

/** Training steps of each adapter of `roadster demo compose`. */
export const DEFAULT_COMPOSE_DEMO_STEPS = 300;
