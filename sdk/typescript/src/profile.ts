/**
 * Client profiles: the JSON file `covenant node init` and `covenant up` write and the CLI
 * reads — the node's endpoint, the chain, and named identities (certificate and key files,
 * relative to the profile's directory). Reading files needs Node.js; in a browser build a
 * [`Signer`] from PEM texts instead.
 */

import { ProfileError } from './errors.js';
import { Signer } from './tx.js';

export interface IdentityFiles {
  cert: string;
  key: string;
}

export interface ProfileData {
  endpoint: string;
  chain_id: string;
  identity: string;
  identities: Record<string, IdentityFiles>;
  endpoints?: string[];
}

export class Profile {
  private constructor(
    readonly data: ProfileData,
    /** Directory relative paths are relative to. */
    readonly base: string,
  ) {}

  get endpoint(): string {
    return this.data.endpoint;
  }

  get chainId(): string {
    return this.data.chain_id;
  }

  /** Read a profile file. */
  static async load(path: string): Promise<Profile> {
    const fs = await import('node:fs/promises');
    const p = await import('node:path');
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (e) {
      throw new ProfileError('PROFILE_INVALID', `${path}: ${(e as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new ProfileError('PROFILE_INVALID', `${path}: not a profile: ${(e as Error).message}`);
    }
    const d = data as Partial<ProfileData> | null;
    if (
      !d ||
      typeof d.endpoint !== 'string' ||
      typeof d.chain_id !== 'string' ||
      typeof d.identity !== 'string' ||
      typeof d.identities !== 'object' ||
      d.identities === null
    ) {
      throw new ProfileError('PROFILE_INVALID', `${path}: not a profile (endpoint, chain_id, identity, identities)`);
    }
    return new Profile(d as ProfileData, p.dirname(path));
  }

  /** The signer named `name` (default: the profile's identity). */
  async signer(name?: string): Promise<Signer> {
    const who = name ?? this.data.identity;
    const files = this.data.identities[who];
    if (!files) {
      throw new ProfileError(
        'IDENTITY_UNKNOWN',
        `no identity named "${who}" in the profile (it has: ${Object.keys(this.data.identities).join(', ')})`,
      );
    }
    const fs = await import('node:fs/promises');
    const p = await import('node:path');
    const read = async (f: string) => {
      const path = p.isAbsolute(f) ? f : p.join(this.base, f);
      try {
        return await fs.readFile(path, 'utf8');
      } catch (e) {
        throw new ProfileError('IDENTITY_INVALID', `identity ${who}: ${(e as Error).message}`);
      }
    };
    const [cert, key] = [await read(files.cert), await read(files.key)];
    try {
      return Signer.fromPem(cert, key);
    } catch (e) {
      throw new ProfileError('IDENTITY_INVALID', `identity ${who}: ${(e as Error).message}`);
    }
  }
}
