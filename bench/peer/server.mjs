// The node peer of `make bench` (optional): oidc-provider serving client-credentials grants
// to one confidential client, so every run shows our grant rate beside a maintained
// provider's on the same core. Usage: node server.mjs PORT SECRET
import http from 'node:http';
import Provider from 'oidc-provider';

const [port, secret] = process.argv.slice(2);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{ client_id: 'svc', client_secret: secret, grant_types: ['client_credentials'],
    redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic',
    scope: 'customer' }],
  scopes: ['customer'],
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
});
const server = http.createServer(provider.callback()).listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
