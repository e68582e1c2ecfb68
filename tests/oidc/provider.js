// A real OpenID Connect provider for the sign-in tests (tests/oidc_provider.py starts it).
//
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ID_TOKEN_TTL (seconds), and
// TOKEN_DELAY_MS: how long the token endpoint holds its answer after making it (a slow
// network), so that a short-lived ID token arrives expired.
// Accounts are made up on the spot: the login name is the e-mail, verified unless the name
// starts with "unverified"; the subject is "sub-" + the e-mail. The login page is one field
// (no password): the tests are about Tidtam's side of the flow, not the provider's.
import http from "node:http";
import Provider from "oidc-provider";

const port = Number(process.env.PORT || 9000);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.CLIENT_ID || "tidtam";
const redirectUri = process.env.REDIRECT_URI || "http://127.0.0.1:5000/login/sso/callback";
// Where Tidtam asks to come back after signing out here: its login page.
const postLogoutUri = redirectUri.replace(/\/login\/sso\/callback$/, "/login");

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: process.env.CLIENT_SECRET || "tidtam-secret",
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [postLogoutUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  // The claims asked for by scope go into the ID token as well as the userinfo answer.
  conformIdTokenClaims: false,
  ttl: { IdToken: Number(process.env.ID_TOKEN_TTL || 3600) },
  cookies: { keys: ["tidtam-test-cookie-key"] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: `sub-${id}`, email: id, email_verified: !id.startsWith("unverified"), name: id };
      },
    };
  },
  // A first-party client: consent is taken as given.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid email profile");
    await grant.save();
    return grant;
  },
});

const tokenDelay = Number(process.env.TOKEN_DELAY_MS || 0);
provider.use(async (ctx, next) => {
  await next();
  if (tokenDelay && ctx.path === "/token") await new Promise((done) => setTimeout(done, tokenDelay));
});

const page = (uid) => `<!doctype html><html lang="en"><head><title>Test provider</title></head>
<body><h1>Test identity provider</h1>
<form method="post" action="/interaction/${uid}">
<label for="login">Login</label> <input id="login" name="login" autocomplete="username">
<button type="submit">Continue</button></form></body></html>`;

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = req.url.match(/^\/interaction\/([\w-]+)$/);
  if (!match) return callback(req, res);
  try {
    await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(page(match[1]));
    }
    let body = "";
    for await (const chunk of req) body += chunk;
    const login = new URLSearchParams(body).get("login");
    await provider.interactionFinished(req, res, { login: { accountId: login } }, {
      mergeWithLastSubmission: false,
    });
  } catch (error) {
    res.writeHead(400, { "content-type": "text/plain" });
    res.end(String(error));
  }
});
server.listen(port, "127.0.0.1", () => console.log(`oidc provider on ${issuer}`));
