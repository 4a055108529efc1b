// Demo OpenID Connect identity provider: the university IdP stand-in for the
// course platform demo and its end-to-end tests. NOT FOR PRODUCTION: accounts
// come from a JSON file with plain-text demo passwords, all state (sessions,
// grants, tokens) lives in memory and signing keys are generated at startup.
//
// Configuration comes from environment variables; see README.md.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

const here = path.dirname(fileURLToPath(import.meta.url));

function env(name, fallback) {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

function splitList(value) {
  return String(value || '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function log(message) {
  process.stdout.write(`${new Date().toISOString()} demo-idp: ${message}\n`);
}

const PORT = Number.parseInt(env('IDP_PORT', '9000'), 10);
const HOST = env('IDP_HOST', '0.0.0.0');
const ISSUER = env('IDP_ISSUER', `http://localhost:${PORT}`).replace(/\/+$/, '');
const CLIENT_ID = env('IDP_CLIENT_ID', 'jupyterhub');
const CLIENT_SECRET = env('IDP_CLIENT_SECRET', 'demo-client-secret');
const REDIRECT_URIS = splitList(env('IDP_REDIRECT_URIS', 'http://localhost:8000/hub/oauth_callback'));
const USERS_FILE = process.env.IDP_USERS_FILE
  ? path.resolve(process.cwd(), process.env.IDP_USERS_FILE)
  : path.join(here, 'users.json');
const TRUST_PROXY = ['1', 'true', 'yes'].includes(env('IDP_TRUST_PROXY', '').toLowerCase());

let COOKIE_KEYS = splitList(env('IDP_COOKIE_KEYS', ''));
if (COOKIE_KEYS.length === 0) {
  COOKIE_KEYS = [crypto.randomBytes(32).toString('hex')];
  log('IDP_COOKIE_KEYS not set: using a random cookie signing key (sessions end on restart)');
}

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------

function loadUsers(file) {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  const list = Array.isArray(raw) ? raw : raw.users;
  if (!Array.isArray(list)) {
    throw new Error(`${file}: expected a list of users or {"users": [...]}`);
  }
  const byName = new Map();
  for (const user of list) {
    if (!user.username || typeof user.password !== 'string') {
      throw new Error(`${file}: every user needs "username" and "password"`);
    }
    byName.set(user.username, user);
  }
  return byName;
}

const USERS = loadUsers(USERS_FILE);

function subjectOf(user) {
  return user.sub || user.username;
}

function findUserBySub(sub) {
  for (const user of USERS.values()) {
    if (subjectOf(user) === sub) return user;
  }
  return undefined;
}

function checkPassword(username, password) {
  const user = USERS.get(username);
  if (!user) return undefined;
  const a = Buffer.from(String(password));
  const b = Buffer.from(user.password);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return undefined;
  return user;
}

function claimsOf(user) {
  const claims = {
    sub: subjectOf(user),
    preferred_username: user.username,
    name: user.name,
    email: user.email,
    email_verified: user.email ? true : undefined,
    groups: user.groups || [],
  };
  // Accounts without a roll number get no roll_number claim at all.
  if (user.roll_number !== undefined && user.roll_number !== null) {
    claims.roll_number = user.roll_number;
  }
  return claims;
}

// ---------------------------------------------------------------------------
// oidc-provider configuration
// ---------------------------------------------------------------------------

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'demo-idp-rs256', use: 'sig', alg: 'RS256' };

const configuration = {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: REDIRECT_URIS,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // client_secret_post is accepted for this client as well (oidc-provider
      // treats the two secret-based methods as interchangeable).
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // Scope -> claims. roll_number and groups come with "profile" (what the hub
  // asks for anyway) and also with the dedicated "course" scope.
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'roll_number', 'groups'],
    email: ['email', 'email_verified'],
    course: ['roll_number', 'groups'],
  },
  scopes: ['openid', 'profile', 'email', 'course'],
  // Put the scope claims into the ID token as well (userinfo always has them).
  conformIdTokenClaims: false,
  async findAccount(ctx, sub) {
    const user = findUserBySub(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return claimsOf(user);
      },
    };
  },
  jwks: { keys: [signingKey] },
  cookies: {
    keys: COOKIE_KEYS,
    long: { httpOnly: true, sameSite: 'lax', signed: true },
    short: { httpOnly: true, sameSite: 'lax', signed: true },
  },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  // PKCE is optional for confidential clients (the default requires it only for
  // public clients); a request that sends it is verified.
  pkce: { required: () => false },
  interactions: {
    url(ctx, interaction) {
      return `/interaction/${interaction.uid}`;
    },
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 600,
    IdToken: 3600,
    Interaction: 3600,
    Session: 8 * 3600,
    Grant: 8 * 3600,
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page(
      'Sign-in error',
      `<h1>Sign-in error</h1>
      <p class="error" id="error">${esc(out.error)}: ${esc(out.error_description || '')}</p>`,
    );
  },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = TRUST_PROXY;

provider.on('server_error', (ctx, err) => {
  log(`server error on ${ctx.method} ${ctx.path}: ${err.stack || err}`);
});
provider.on('grant.success', (ctx) => {
  log(`token issued to client ${ctx.oidc.client?.clientId} (host ${ctx.host})`);
});
provider.on('grant.error', (ctx, err) => {
  log(`token request failed (host ${ctx.host}): ${err.message} ${err.error_description || ''} ${err.error_detail || ''}`.trimEnd());
});

// ---------------------------------------------------------------------------
// Login / consent pages (the "interaction" part of the flow)
// ---------------------------------------------------------------------------

function esc(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} - University login (demo)</title>
<style>
body{font-family:system-ui,sans-serif;background:#f3f4f6;margin:0;padding:40px 16px}
main{max-width:360px;margin:0 auto;background:#fff;padding:24px 28px;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.2)}
h1{font-size:1.3em;margin-top:0}
label{display:block;margin:12px 0 4px}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:8px;font-size:1em}
button{margin-top:16px;padding:8px 16px;font-size:1em;cursor:pointer}
.error{color:#b00020;font-weight:600}
.note{color:#555;font-size:.85em;margin-top:20px}
</style>
</head>
<body><main>
${body}
<p class="note">Demo identity provider - not a real university login.</p>
</main></body>
</html>`;
}

function loginPage(uid, { username = '', error = '', clientId = '' } = {}) {
  return page(
    'Sign in',
    `<h1>Sign in</h1>
    <p>to continue to <strong>${esc(clientId)}</strong></p>
    ${error ? `<p class="error" id="error" role="alert">${esc(error)}</p>` : ''}
    <form id="login-form" method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
      <label for="username">Username</label>
      <input type="text" id="username" name="username" value="${esc(username)}" required autofocus>
      <label for="password">Password</label>
      <input type="password" id="password" name="password" required>
      <button type="submit" id="login-submit">Sign in</button>
    </form>`,
  );
}

function consentPage(uid, { clientId, username, scopes }) {
  return page(
    'Authorize',
    `<h1>Authorize access</h1>
    <p>Signed in as <strong id="account">${esc(username)}</strong>.</p>
    <p><strong>${esc(clientId)}</strong> asks for: ${esc(scopes.join(', ') || 'sign-in')}</p>
    <form id="consent-form" method="post" action="/interaction/${esc(uid)}/confirm">
      <button type="submit" id="consent-submit">Continue</button>
    </form>
    <p><a href="/interaction/${esc(uid)}/abort" id="consent-abort">Cancel</a></p>`,
  );
}

function send(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
  });
  res.end(html);
}

async function readForm(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function handleInteraction(req, res, url) {
  const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?\/?$/);
  if (!match) {
    send(res, 404, page('Not found', '<h1>Not found</h1>'));
    return;
  }
  const [, uid, action] = match;

  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    // Expired or unknown interaction, or the cookie is missing.
    send(
      res,
      400,
      page(
        'Sign-in expired',
        `<h1>Sign-in expired</h1>
        <p class="error" id="error">${esc(err.error_description || err.message)}</p>
        <p>Go back to the course platform and start the sign-in again.</p>`,
      ),
    );
    return;
  }
  if (details.uid !== uid) {
    send(res, 400, page('Sign-in error', '<h1>Sign-in error</h1><p class="error" id="error">interaction mismatch</p>'));
    return;
  }

  const { prompt, params, session } = details;
  const clientId = params.client_id;

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      send(res, 200, loginPage(uid, { clientId }));
      return;
    }
    if (prompt.name === 'consent') {
      const user = findUserBySub(session?.accountId);
      const scopes = [...new Set(String(params.scope || '').split(' ').filter(Boolean))];
      send(res, 200, consentPage(uid, { clientId, username: user?.username || session?.accountId, scopes }));
      return;
    }
    send(res, 400, page('Sign-in error', `<h1>Sign-in error</h1><p class="error" id="error">unsupported prompt ${esc(prompt.name)}</p>`));
    return;
  }

  if (req.method === 'POST' && action === 'login') {
    if (prompt.name !== 'login') {
      send(res, 400, page('Sign-in error', '<h1>Sign-in error</h1><p class="error" id="error">not expecting a login now</p>'));
      return;
    }
    const form = await readForm(req);
    const username = (form.get('username') || '').trim();
    const user = checkPassword(username, form.get('password') || '');
    if (!user) {
      log(`login FAILED for "${username}" (client ${clientId})`);
      send(res, 401, loginPage(uid, { username, clientId, error: 'Invalid username or password.' }));
      return;
    }
    log(`login OK: ${user.username} (sub ${subjectOf(user)}, roll_number ${user.roll_number ?? '<none>'}, client ${clientId})`);
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: subjectOf(user), remember: false } },
      { mergeWithLastSubmission: false },
    );
    return;
  }

  if (req.method === 'POST' && action === 'confirm') {
    if (prompt.name !== 'consent') {
      send(res, 400, page('Sign-in error', '<h1>Sign-in error</h1><p class="error" id="error">not expecting a consent now</p>'));
      return;
    }
    await readForm(req);
    const { grantId: existingGrantId } = details;
    const grant = existingGrantId
      ? await provider.Grant.find(existingGrantId)
      : new provider.Grant({ accountId: session.accountId, clientId });
    const pd = prompt.details || {};
    if (pd.missingOIDCScope) grant.addOIDCScope(pd.missingOIDCScope.join(' '));
    if (pd.missingOIDCClaims) grant.addOIDCClaims(pd.missingOIDCClaims);
    if (pd.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(pd.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    const consent = existingGrantId ? {} : { grantId };
    log(`consent given: ${session.accountId} -> ${clientId} (scopes ${params.scope})`);
    await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
    return;
  }

  if (action === 'abort') {
    log(`sign-in cancelled by the user (client ${clientId})`);
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
    return;
  }

  res.writeHead(405, { Allow: 'GET, POST' });
  res.end();
}

// ---------------------------------------------------------------------------
// HTTP server
// ---------------------------------------------------------------------------

const providerCallback = provider.callback();

const server = http.createServer(async (req, res) => {
  let url;
  try {
    url = new URL(req.url, 'http://placeholder');
  } catch {
    res.writeHead(400);
    res.end();
    return;
  }
  try {
    if (url.pathname === '/health') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ status: 'ok', issuer: ISSUER }));
      return;
    }
    if (url.pathname === '/' && req.method === 'GET') {
      send(
        res,
        200,
        page('Demo IdP', `<h1>Demo identity provider</h1><p>Issuer: <code>${esc(ISSUER)}</code></p>
        <p><a href="/.well-known/openid-configuration">OpenID configuration</a></p>`),
      );
      return;
    }
    if (url.pathname === '/interaction' || url.pathname.startsWith('/interaction/')) {
      await handleInteraction(req, res, url);
      return;
    }
    providerCallback(req, res);
  } catch (err) {
    log(`error on ${req.method} ${url.pathname}: ${err.stack || err}`);
    if (!res.headersSent) {
      const known = err instanceof errors.OIDCProviderError;
      send(res, known ? err.statusCode || 400 : 500, page('Error', `<h1>Error</h1><p class="error" id="error">${esc(known ? err.error_description || err.message : 'internal error')}</p>`));
    } else {
      res.end();
    }
  }
});

function shutdown(signal) {
  log(`${signal} received, shutting down`);
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(PORT, HOST, () => {
  log(`listening on ${HOST}:${PORT}, issuer ${ISSUER}`);
  log(`client ${CLIENT_ID}, redirect_uris ${REDIRECT_URIS.join(' ')}`);
  log(`${USERS.size} accounts loaded from ${path.basename(USERS_FILE)}`);
});
