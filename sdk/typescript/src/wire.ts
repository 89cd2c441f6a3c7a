/**
 * The transaction's wire format: the protobuf messages `TxPayload`, `Sender`, `Endorsement`
 * and `Transaction` of `proto/covenant/v1/types.proto`, encoded exactly as the node encodes
 * them (fields in number order, proto3 defaults left out, a set `oneof` member always written).
 */

import { Malformed } from './errors.js';
import { utf8 } from './bytes.js';

/** What a transaction asks for; its encoding is what gets signed and hashed into the tx id. */
export interface TxPayload {
  chainId: string;
  /** Client-chosen random bytes that make the payload (and so the id) unique. */
  nonce: Uint8Array;
  /** Client clock, milliseconds since the Unix epoch. */
  timestampMs: bigint;
  /** Last millisecond the transaction may be included at; 0: timestamp + the chain's window. */
  expiryMs: bigint;
  contract: string;
  method: string;
  /** Arguments: a JSON object's bytes for WASM and system contracts. */
  args: Uint8Array;
  gasLimit: bigint;
}

/** Who signed: the certificate itself (DER), or the hash of one registered on the chain. */
export type Sender = { certificate: Uint8Array } | { certificateHash: Uint8Array };

export interface Endorsement {
  signer: Sender;
  signature: Uint8Array;
}

export interface Transaction {
  /** The encoded payload, as signed. */
  payload: Uint8Array;
  sender: Sender | undefined;
  signature: Uint8Array;
  endorsements: Endorsement[];
}

const MAX_U64 = (1n << 64n) - 1n;

class Writer {
  private parts: number[] = [];

  varint(v: bigint): void {
    if (v < 0n || v > MAX_U64) throw new Malformed('varint', `${v} is not a u64`);
    while (v >= 0x80n) {
      this.parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.parts.push(Number(v));
  }

  tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  bytes(field: number, b: Uint8Array, always = false): void {
    if (b.length === 0 && !always) return;
    this.tag(field, 2);
    this.varint(BigInt(b.length));
    for (const x of b) this.parts.push(x);
  }

  string(field: number, s: string): void {
    this.bytes(field, utf8(s));
  }

  uint64(field: number, v: bigint): void {
    if (v === 0n) return;
    this.tag(field, 0);
    this.varint(v);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

class Reader {
  private at = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  done(): boolean {
    return this.at >= this.buf.length;
  }

  varint(): bigint {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.at >= this.buf.length) throw new Malformed(this.what, 'truncated varint');
      const b = this.buf[this.at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (v > MAX_U64) throw new Malformed(this.what, 'varint overflows 64 bits');
        return v;
      }
    }
    throw new Malformed(this.what, 'varint too long');
  }

  key(): { field: number; wire: number } {
    const k = this.varint();
    const field = Number(k >> 3n);
    if (field === 0) throw new Malformed(this.what, 'field number 0');
    return { field, wire: Number(k & 7n) };
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (n > BigInt(this.buf.length - this.at)) throw new Malformed(this.what, 'truncated field');
    const out = this.buf.slice(this.at, this.at + Number(n));
    this.at += Number(n);
    return out;
  }

  string(): string {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes());
    } catch (e) {
      if (e instanceof Malformed) throw e;
      throw new Malformed(this.what, 'a string field is not UTF-8');
    }
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new Malformed(this.what, `unsupported wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (this.at + n > this.buf.length) throw new Malformed(this.what, 'truncated field');
    this.at += n;
  }

  expect(wire: number, got: number): void {
    if (wire !== got) throw new Malformed(this.what, `wire type ${got} where ${wire} was expected`);
  }
}

export function encodePayload(p: TxPayload): Uint8Array {
  const w = new Writer();
  w.string(1, p.chainId);
  w.bytes(2, p.nonce);
  w.uint64(3, p.timestampMs);
  w.uint64(4, p.expiryMs);
  w.string(5, p.contract);
  w.string(6, p.method);
  w.bytes(7, p.args);
  w.uint64(8, p.gasLimit);
  return w.finish();
}

export function decodePayload(buf: Uint8Array): TxPayload {
  const r = new Reader(buf, 'transaction payload');
  const p: TxPayload = {
    chainId: '',
    nonce: new Uint8Array(),
    timestampMs: 0n,
    expiryMs: 0n,
    contract: '',
    method: '',
    args: new Uint8Array(),
    gasLimit: 0n,
  };
  while (!r.done()) {
    const { field, wire } = r.key();
    const want = [0, 2, 2, 0, 0, 2, 2, 2, 0][field];
    if (want === undefined) {
      r.skip(wire);
      continue;
    }
    r.expect(want, wire);
    switch (field) {
      case 1: p.chainId = r.string(); break;
      case 2: p.nonce = r.bytes(); break;
      case 3: p.timestampMs = r.varint(); break;
      case 4: p.expiryMs = r.varint(); break;
      case 5: p.contract = r.string(); break;
      case 6: p.method = r.string(); break;
      case 7: p.args = r.bytes(); break;
      case 8: p.gasLimit = r.varint(); break;
    }
  }
  return p;
}

function encodeSender(s: Sender): Uint8Array {
  const w = new Writer();
  if ('certificate' in s) w.bytes(1, s.certificate, true);
  else w.bytes(2, s.certificateHash, true);
  return w.finish();
}

function decodeSender(buf: Uint8Array): Sender | undefined {
  const r = new Reader(buf, 'sender');
  let s: Sender | undefined;
  while (!r.done()) {
    const { field, wire } = r.key();
    if (field === 1 || field === 2) {
      r.expect(2, wire);
      s = field === 1 ? { certificate: r.bytes() } : { certificateHash: r.bytes() };
    } else r.skip(wire);
  }
  return s;
}

export function encodeTransaction(tx: Transaction): Uint8Array {
  const w = new Writer();
  w.bytes(1, tx.payload);
  if (tx.sender) w.bytes(2, encodeSender(tx.sender), true);
  w.bytes(3, tx.signature);
  for (const e of tx.endorsements) {
    const ew = new Writer();
    ew.bytes(1, encodeSender(e.signer), true);
    ew.bytes(2, e.signature);
    w.bytes(4, ew.finish(), true);
  }
  return w.finish();
}

export function decodeTransaction(buf: Uint8Array): Transaction {
  const r = new Reader(buf, 'transaction');
  const tx: Transaction = { payload: new Uint8Array(), sender: undefined, signature: new Uint8Array(), endorsements: [] };
  while (!r.done()) {
    const { field, wire } = r.key();
    if (field >= 1 && field <= 4) r.expect(2, wire);
    switch (field) {
      case 1: tx.payload = r.bytes(); break;
      case 2: tx.sender = decodeSender(r.bytes()); break;
      case 3: tx.signature = r.bytes(); break;
      case 4: {
        const er = new Reader(r.bytes(), 'endorsement');
        let signer: Sender | undefined;
        let signature: Uint8Array = new Uint8Array();
        while (!er.done()) {
          const k = er.key();
          if (k.field === 1) {
            er.expect(2, k.wire);
            signer = decodeSender(er.bytes());
          } else if (k.field === 2) {
            er.expect(2, k.wire);
            signature = er.bytes();
          } else er.skip(k.wire);
        }
        if (!signer) throw new Malformed('endorsement', 'no signer');
        tx.endorsements.push({ signer, signature });
        break;
      }
      default: r.skip(wire);
    }
  }
  return tx;
}
