// node-oidc-provider configured like a production deployment, for `make bench` to measure
// beside us (bench/README.md): one process (node runs JavaScript on one thread, so one process
// per core is the fair comparison per core), RS256 keys, discovery and JWKS, client credentials
// with a JWT access token for a resource server (RFC 8707 resource indicators) and introspection
// of its opaque tokens (it refuses to introspect JWTs: RFC 7662 is for tokens it stores).
//
// Usage: node server.mjs PORT CLIENTS_JSON
// CLIENTS_JSON: {"jwt": {"client_id", "client_secret"}, "opaque": {...}}; prints "ready" once
// listening.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, clientsJson] = process.argv.slice(2);
const clients = JSON.parse(clientsJson);
const issuer = `http://127.0.0.1:${port}`;
const resource = 'https://api.bench.example';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', use: 'sig', alg: 'RS256' };

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

const provider = new Provider(issuer, {
  clients: [client(clients.jwt), client(clients.opaque)],
  jwks: { keys: [jwk] },
  scopes: ['openid', 'offline_access', 'a', 'b'],
  cookies: { keys: ['bench-cookie-key-not-a-secret-of-any-deployment'] },
  features: {
    devInteractions: { enabled: false },
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
