/**
 * The algorithm suites: `sm` (SM2 signatures with SM3 and the default distinguishing ID,
 * SM3 hashes) and `intl` (ECDSA P-256 with SHA-256 or Ed25519, SHA-256 hashes). Signatures
 * are those the node checks: SM2 and ECDSA DER-encoded, Ed25519 64 raw bytes.
 */

import { ed25519 } from '@noble/curves/ed25519';
import { p256 } from '@noble/curves/nist';
import { sha256 } from '@noble/hashes/sha2';
import { sm2, sm3 } from 'sm-crypto-v2';

import { equal, fromHex, toHex } from './bytes.js';
import { children, oidText, pemBody, readTlv } from './der.js';
import { Malformed } from './errors.js';

export type Suite = 'sm' | 'intl';
export type KeyAlgorithm = 'sm2' | 'p256' | 'ed25519';
export type HashAlgorithm = 'sm3' | 'sha256';

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_P256 = '1.2.840.10045.3.1.7';
const OID_SM2 = '1.2.156.10197.1.301';
const OID_ED25519 = '1.3.101.112';

/** The suite a key algorithm belongs to. */
export function suiteOf(alg: KeyAlgorithm): Suite {
  return alg === 'sm2' ? 'sm' : 'intl';
}

export function hashAlgorithm(suite: Suite): HashAlgorithm {
  return suite === 'sm' ? 'sm3' : 'sha256';
}

export function digest(alg: HashAlgorithm, data: Uint8Array): Uint8Array {
  return alg === 'sm3' ? fromHex(sm3(data)) : sha256(data);
}

/** The suite's hash: transaction ids, accounts (of certificates), Merkle trees. */
export function suiteHash(suite: Suite, data: Uint8Array): Uint8Array {
  return digest(hashAlgorithm(suite), data);
}

/** A public key: SEC1 uncompressed point for SM2 and P-256, 32 raw bytes for Ed25519. */
export class PublicKey {
  constructor(
    readonly algorithm: KeyAlgorithm,
    readonly bytes: Uint8Array,
  ) {}

  /** Whether `signature` is this key's over `message`. */
  verify(message: Uint8Array, signature: Uint8Array): boolean {
    try {
      switch (this.algorithm) {
        case 'sm2':
          return sm2.doVerifySignature(message, toHex(signature), toHex(this.bytes), { der: true, hash: true });
        case 'p256':
          return p256.verify(signature, sha256(message), this.bytes, { prehash: false, format: 'der', lowS: false });
        case 'ed25519':
          return ed25519.verify(signature, message, this.bytes);
      }
    } catch {
      return false;
    }
  }

  equals(other: PublicKey): boolean {
    return this.algorithm === other.algorithm && equal(this.bytes, other.bytes);
  }

  /** From a SubjectPublicKeyInfo's DER. */
  static fromSpki(der: Uint8Array): PublicKey {
    const spki = readTlv(der, 0, 'public key');
    const [alg, bits] = children(spki.body, 'public key');
    if (!alg || !bits || bits.tag !== 0x03) throw new Malformed('public key', 'not a SubjectPublicKeyInfo');
    const [oid, params] = children(alg.body, 'public key algorithm');
    const key = bits.body.subarray(1);
    const algorithm = keyAlgorithm(oid ? oidText(oid.body) : '', params && params.tag === 0x06 ? oidText(params.body) : '');
    return new PublicKey(algorithm, key.slice());
  }
}

function keyAlgorithm(oid: string, curve: string): KeyAlgorithm {
  if (oid === OID_ED25519) return 'ed25519';
  if (oid === OID_EC_PUBLIC_KEY && curve === OID_P256) return 'p256';
  if (oid === OID_EC_PUBLIC_KEY && curve === OID_SM2) return 'sm2';
  throw new Malformed('key', `unsupported algorithm ${oid} ${curve}`.trim());
}

/** A private signing key. */
export class PrivateKey {
  readonly publicKey: PublicKey;

  private constructor(
    readonly algorithm: KeyAlgorithm,
    private readonly secret: Uint8Array,
  ) {
    this.publicKey = new PublicKey(algorithm, derivePublic(algorithm, secret));
  }

  /** From a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as `covenant ca` writes them. */
  static fromPkcs8Pem(pem: string): PrivateKey {
    return PrivateKey.fromPkcs8Der(pemBody(pem, 'PRIVATE KEY'));
  }

  static fromPkcs8Der(der: Uint8Array): PrivateKey {
    const outer = readTlv(der, 0, 'private key');
    const [version, alg, key] = children(outer.body, 'private key');
    if (!version || !alg || !key || key.tag !== 0x04) throw new Malformed('private key', 'not PKCS#8');
    const [oid, params] = children(alg.body, 'private key algorithm');
    const algorithm = keyAlgorithm(oid ? oidText(oid.body) : '', params && params.tag === 0x06 ? oidText(params.body) : '');
    let secret: Uint8Array;
    if (algorithm === 'ed25519') {
      // CurvePrivateKey ::= OCTET STRING (RFC 8410).
      const inner = readTlv(key.body, 0, 'Ed25519 key');
      secret = inner.body;
    } else {
      // ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, … } (RFC 5915).
      const ec = readTlv(key.body, 0, 'EC private key');
      const [, priv] = children(ec.body, 'EC private key');
      if (!priv || priv.tag !== 0x04) throw new Malformed('private key', 'not an ECPrivateKey');
      secret = priv.body;
    }
    if (secret.length !== 32) throw new Malformed('private key', `a ${algorithm} key has 32 bytes, not ${secret.length}`);
    return new PrivateKey(algorithm, secret.slice());
  }

  /** A fresh random key. */
  static generate(algorithm: KeyAlgorithm): PrivateKey {
    switch (algorithm) {
      case 'sm2':
        return new PrivateKey('sm2', fromHex(sm2.generateKeyPairHex().privateKey.padStart(64, '0')));
      case 'p256':
        return new PrivateKey('p256', p256.utils.randomPrivateKey());
      case 'ed25519':
        return new PrivateKey('ed25519', ed25519.utils.randomPrivateKey());
    }
  }

  /** Sign `message` (the node checks signatures over the exact payload bytes). */
  sign(message: Uint8Array): Uint8Array {
    switch (this.algorithm) {
      case 'sm2':
        return fromHex(
          sm2.doSignature(message, toHex(this.secret), { der: true, hash: true, publicKey: toHex(this.publicKey.bytes) }),
        );
      case 'p256':
        return p256.sign(sha256(message), this.secret, { prehash: false }).toDERRawBytes();
      case 'ed25519':
        return ed25519.sign(message, this.secret);
    }
  }
}

function derivePublic(alg: KeyAlgorithm, secret: Uint8Array): Uint8Array {
  switch (alg) {
    case 'sm2':
      return fromHex(sm2.getPublicKeyFromPrivateKey(toHex(secret)));
    case 'p256':
      return p256.getPublicKey(secret, false);
    case 'ed25519':
      return ed25519.getPublicKey(secret);
  }
}

/** An X.509 certificate: its DER (what a transaction names its sender by) and public key. */
export class Certificate {
  readonly publicKey: PublicKey;

  constructor(readonly der: Uint8Array) {
    const cert = readTlv(der, 0, 'certificate');
    const [tbs] = children(cert.body, 'certificate');
    if (!tbs) throw new Malformed('certificate', 'empty');
    const fields = children(tbs.body, 'certificate');
    // [0] version, serial, signature algorithm, issuer, validity, subject, subjectPublicKeyInfo
    const spki = fields[fields[0]?.tag === 0xa0 ? 6 : 5];
    if (!spki) throw new Malformed('certificate', 'no subject public key');
    this.publicKey = PublicKey.fromSpki(tbs.body.subarray(spki.start, spki.end));
  }

  static fromPem(pem: string): Certificate {
    return new Certificate(pemBody(pem, 'CERTIFICATE'));
  }

  /** The PEM text. */
  toPem(): string {
    let b = '';
    for (const x of this.der) b += String.fromCharCode(x);
    const lines = btoa(b).match(/.{1,64}/g) ?? [];
    return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
  }
}
