/**
 * The little DER the SDK needs: reading PKCS#8 private keys and X.509 certificates far
 * enough to get the key and its algorithm.
 */

import { Malformed } from './errors.js';

export interface Tlv {
  tag: number;
  /** The content's bytes. */
  body: Uint8Array;
  /** Where the element (its tag) starts in the buffer it was read from. */
  start: number;
  /** Where the element ends in the buffer it was read from. */
  end: number;
}

/** Read one element at `at`. */
export function readTlv(buf: Uint8Array, at: number, what: string): Tlv {
  if (at + 2 > buf.length) throw new Malformed(what, 'truncated DER');
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) throw new Malformed(what, 'bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  if (start + len > buf.length) throw new Malformed(what, 'truncated DER');
  return { tag, body: buf.subarray(start, start + len), start: at, end: start + len };
}

/** The elements of a constructed value's content. */
export function children(body: Uint8Array, what: string): Tlv[] {
  const out: Tlv[] = [];
  let at = 0;
  while (at < body.length) {
    const t = readTlv(body, at, what);
    out.push(t);
    at = t.end;
  }
  return out;
}

/** Dotted text of an OBJECT IDENTIFIER's content. */
export function oidText(body: Uint8Array): string {
  if (body.length === 0) return '';
  const first = body[0]!;
  const parts = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let v = 0;
  for (const b of body.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** The bytes between PEM armour lines with `label`. */
export function pemBody(pem: string, label: string): Uint8Array {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!m) throw new Malformed('PEM', `no ${label} block`);
  const b64 = m[1]!.replace(/\s+/g, '');
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    throw new Malformed('PEM', `the ${label} block is not base64`);
  }
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
