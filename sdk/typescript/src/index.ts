/**
 * The TypeScript client SDK of Covenant, for Node.js and browsers.
 *
 * - {@link Profile}: the CLI's profile file — endpoint, chain, identities (Node.js).
 * - {@link Signer}: a certificate and key that build and sign transactions (SM2/SM3, ECDSA
 *   P-256, Ed25519) and endorse governed calls, byte for byte as the node expects.
 * - {@link Client}: submit, invoke and wait, query, blocks, transactions with their Merkle
 *   proofs checked, chain info and config, contracts, and subscriptions that resume after a
 *   disconnect.
 * - Errors are {@link CovenantError}s with the node's stable code.
 */

export * from './bytes.js';
export * from './client.js';
export * from './crypto.js';
export * from './errors.js';
export * from './merkle.js';
export * from './profile.js';
export * from './subscribe.js';
export * from './tx.js';
export * from './wire.js';
