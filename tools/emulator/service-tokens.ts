import type { Entra, TokenSubject } from './entra';

/** A service token as it left the emulated Entra: for whom, for which resource, and the token itself. */
export interface IssuedServiceToken {
  resource: string;
  objectId: string;
  token: string;
  /** Epoch seconds. */
  expiresOn: number;
}

/** May return a promise: the token is handed out once it settles (a local store has learnt it by then). */
export type ServiceTokenListener = (issued: IssuedServiceToken) => void | Promise<void>;

/**
 * Issues the tokens the app's identities ask for (managed identity endpoint, `az`) and tells listeners about
 * each. A listener stands in for what a real service knows by itself: a local redis-server cannot validate an
 * Entra token the way Azure Managed Redis does, so `npm run dev` and the tests add each Redis-audience token
 * as an ACL password for its object id.
 */
export class ServiceTokens {
  private readonly listeners = new Set<ServiceTokenListener>();

  constructor(
    private readonly entra: Entra,
    /** Lifetime per resource (no trailing slash), for tests that must see a token expire and be replaced. */
    private readonly lifetimes: Readonly<Record<string, number>> = {},
  ) {}

  async issue(subject: TokenSubject, resource: string): Promise<{ token: string; expiresOn: number }> {
    // NOTE: without a lifetime for this resource, Entra's own (settable through the admin API) applies.
    const lifetime = this.lifetimes[resource.replace(/\/+$/, '')];
    const issued = await this.entra.issueServiceToken(subject, resource, lifetime);
    const report = { resource, objectId: subject.objectId, token: issued.token, expiresOn: issued.expiresOn };
    await Promise.all([...this.listeners].map(async (listener) => listener(report)));
    return issued;
  }

  /** Calls `listener` for every token issued from now on; the returned function stops that. */
  onIssued(listener: ServiceTokenListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
