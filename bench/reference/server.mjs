// node-oidc-provider configured like a production deployment, for `make bench` to measure
// beside us (bench/README.md): one process (node runs JavaScript on one thread, so one process
// per core is the fair comparison per core), RS256 keys, discovery and JWKS, client credentials
// with a JWT access token for a resource server (RFC 8707 resource indicators) and introspection
// of its opaque tokens (it refuses to introspect JWTs: RFC 7662 is for tokens it stores).
//
// Usage: node server.mjs PORT CLIENTS_JSON
// CLIENTS_JSON: {"jwt": {"client_id", "client_secret"}, "opaque": {...}, "web": {...}}; prints
// "ready" once
// listening.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const [port, clientsJson] = process.argv.slice(2);
const clients = JSON.parse(clientsJson);
const issuer = `http://127.0.0.1:${port}`;
const resource = 'https://api.bench.example';
const redirect = 'https://rp.bench.example/callback';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', use: 'sig', alg: 'RS256' };

// Its own in-memory adapter, with a store of 500,000 entries instead of 1,000: under load the
// default one evicts the grants and sessions of live refresh tokens, which then fail. A
// production deployment would use Redis or a database; memory flatters the reference.
class Store {
  constructor(maxSize) {
    this.maxSize = maxSize;
    this.entries = new Map();
  }

  get(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key, value, options) {
    this.entries.delete(key);
    const expiresAt = options?.maxAge === undefined ? undefined : Date.now() + options.maxAge;
    this.entries.set(key, { value, expiresAt });
    if (this.entries.size > this.maxSize) {
      this.entries.delete(this.entries.keys().next().value);
    }
  }

  delete(key) {
    this.entries.delete(key);
  }
}

const store = new Store(500_000);

function client({ client_id, client_secret }) {
  return {
    client_id,
    client_secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'a b',
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

// A web client for sign-ins and refresh tokens (the refresh row). node-oidc-provider ships no
// login page of its own, only its development interactions, which the benchmark's browsers
// drive (any login is accepted: there is no password to hash).
function webClient({ client_id, client_secret }) {
  return {
    client_id,
    client_secret,
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: [redirect],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, store),
  clients: [client(clients.jwt), client(clients.opaque), webClient(clients.web)],
  jwks: { keys: [jwk] },
  scopes: ['openid', 'offline_access', 'a', 'b'],
  // Every refresh answers with a new refresh token and spends the old one, as ours does.
  rotateRefreshToken: true,
  cookies: { keys: ['bench-cookie-key-not-a-secret-of-any-deployment'] },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // The caller's own tokens, as ours answers on its fast path.
      allowedPolicy: async (ctx, caller, token) => token.clientId === caller.clientId,
    },
    resourceIndicators: {
      enabled: true,
      // The JWT client's tokens are for the resource server; the other's stay opaque.
      defaultResource: async (ctx, caller) => (caller.clientId === clients.jwt.client_id ? resource : undefined),
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'a b',
        audience: resource,
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
