/** The describe title of the misbehaving-peer matrix: test/run.ts runs it in a mocha process of its own by this title. */
export const PEER_MATRIX_TITLE = 'misbehaving peers end as errors within the budget';
