/** Building and signing transactions, byte for byte as the node and the Rust SDK do. */

import { fromHex, randomBytes, toHex, utf8 } from './bytes.js';
import { Certificate, PrivateKey, type Suite, suiteHash, suiteOf } from './crypto.js';
import { ProfileError } from './errors.js';
import { type Endorsement, type Sender, type TxPayload, encodePayload, encodeTransaction } from './wire.js';

/** What to put in a payload; what is left out gets the node's defaults or fresh values. */
export interface PayloadInput {
  chainId: string;
  contract: string;
  method: string;
  /** A JSON value (encoded compactly) or the argument bytes themselves. Default `{}`. */
  args?: unknown;
  /** Default: 16 random bytes. */
  nonce?: Uint8Array;
  /** Default: now. */
  timestampMs?: bigint | number;
  /** Default 0: the timestamp plus the chain's window. */
  expiryMs?: bigint | number;
  /** Default 0: the chain's limit. */
  gasLimit?: bigint | number;
}

/** A payload with every field set. */
export function payload(input: PayloadInput): TxPayload {
  const args =
    input.args instanceof Uint8Array ? input.args : utf8(input.args === undefined ? '{}' : JSON.stringify(input.args));
  return {
    chainId: input.chainId,
    nonce: input.nonce ?? randomBytes(16),
    timestampMs: BigInt(input.timestampMs ?? Date.now()),
    expiryMs: BigInt(input.expiryMs ?? 0),
    contract: input.contract,
    method: input.method,
    args,
    gasLimit: BigInt(input.gasLimit ?? 0),
  };
}

/** A transaction's id: the suite hash of its encoded payload, hex. */
export function txId(suite: Suite, encodedPayload: Uint8Array): string {
  return toHex(suiteHash(suite, encodedPayload));
}

/** A certificate and its private key: signs transactions and endorses others'. */
export class Signer {
  readonly suite: Suite;

  constructor(
    readonly certificate: Certificate,
    readonly key: PrivateKey,
  ) {
    if (!certificate.publicKey.equals(key.publicKey)) {
      throw new ProfileError('IDENTITY_INVALID', 'the key is not the certificate’s');
    }
    this.suite = suiteOf(key.algorithm);
  }

  /** From PEM texts: a certificate and its PKCS#8 private key. */
  static fromPem(certificatePem: string, keyPem: string): Signer {
    return new Signer(Certificate.fromPem(certificatePem), PrivateKey.fromPkcs8Pem(keyPem));
  }

  /** The account contracts see for this signer: the suite hash of the certificate, hex. */
  account(): string {
    return toHex(suiteHash(this.suite, this.certificate.der));
  }

  /** How a transaction names this signer. */
  sender(byHash = false): Sender {
    return byHash ? { certificateHash: fromHex(this.account()) } : { certificate: this.certificate.der };
  }

  /** An endorsement (a further signature) of encoded payload bytes. */
  endorse(encodedPayload: Uint8Array): Endorsement {
    return { signer: this.sender(), signature: this.key.sign(encodedPayload) };
  }

  /**
   * Sign a payload as its sender, with endorsements of `endorsers` (for governed calls whose
   * policy needs several orgs' admins). Returns the encoded transaction and its id.
   */
  sign(
    p: TxPayload,
    opts: { endorsers?: Signer[]; senderByHash?: boolean } = {},
  ): { tx: Uint8Array; txId: string; payload: Uint8Array } {
    const encoded = encodePayload(p);
    const tx = encodeTransaction({
      payload: encoded,
      sender: this.sender(opts.senderByHash ?? false),
      signature: this.key.sign(encoded),
      endorsements: (opts.endorsers ?? []).map((e) => e.endorse(encoded)),
    });
    return { tx, txId: txId(this.suite, encoded), payload: encoded };
  }
}
