// A small API-key-protected REST API shaped like Peel's host API, on Express with the `cors` package
// configured the way its README shows for a fixed allowlist with credentials. Nothing is hardened beyond the
// README: the point is to see what authconform finds in the library's documented configuration.
//
//   GET  /v1/apis                  -> [{id, version}] of the key's organisation
//   GET  /v1/apis/:id/settings     -> {id, note}
//   POST /v1/apis/:id/settings     -> stores {note} (JSON or text/plain body holding JSON), answers {id, note}
//
// Keys: X-API-Key, from EXPRESS_KEY_A (organisation org-a, which owns api-a1). Missing or wrong key: 401
// {"error":"unauthorized"} with WWW-Authenticate: ApiKey. Listens on 127.0.0.1:$PORT.
import { createHash, timingSafeEqual } from 'node:crypto';
import express from 'express';
import cors from 'cors';

const port = Number(process.env.PORT || 8000);

// The README's "Configuration Options": `origin` as an Array of valid origins, `credentials: true` to send
// Access-Control-Allow-Credentials. Everything else is left at the library's defaults.
const corsOptions = {
  origin: ['https://app.example.test'],
  credentials: true,
};

// Principals: key value -> organisation (an unset variable provisions no key).
const keys = new Map();
if (process.env.EXPRESS_KEY_A) keys.set(process.env.EXPRESS_KEY_A, 'org-a');

// Fixture APIs, each owned by one organisation, with its stored settings.
const apis = new Map([
  ['api-a1', { org: 'org-a', version: 1, note: '' }],
  ['api-b1', { org: 'org-b', version: 1, note: '' }],
]);

const digest = (s) => createHash('sha256').update(s, 'utf8').digest();

function organisationOf(presented) {
  if (typeof presented !== 'string' || presented === '') return null;
  const d = digest(presented);
  for (const [key, org] of keys) {
    if (timingSafeEqual(d, digest(key))) return org;
  }
  return null;
}

function requireKey(req, res, next) {
  const org = organisationOf(req.get('X-API-Key'));
  if (!org) {
    res.set('WWW-Authenticate', 'ApiKey');
    return res.status(401).json({ error: 'unauthorized' });
  }
  req.org = org;
  next();
}

function ownedApi(req, res) {
  const api = apis.get(req.params.id);
  if (!api || api.org !== req.org) {
    res.status(404).json({ error: 'not_found' });
    return null;
  }
  return api;
}

const app = express();

// The README: "When using this middleware as an application level middleware (for example,
// `app.use(cors())`), pre-flight requests are already handled for all routes." (Its other form,
// `app.options('*', cors())`, is an Express 4 path; Express 5's router rejects a bare `*`.)
app.use(cors(corsOptions));

app.use('/v1', requireKey);
app.use(express.json());
app.use(express.text());

app.get('/v1/apis', (req, res) => {
  const list = [...apis].filter(([, a]) => a.org === req.org).map(([id, a]) => ({ id, version: a.version }));
  res.json(list);
});

app.get('/v1/apis/:id/settings', (req, res) => {
  const api = ownedApi(req, res);
  if (api) res.json({ id: req.params.id, note: api.note });
});

app.post('/v1/apis/:id/settings', (req, res) => {
  const api = ownedApi(req, res);
  if (!api) return;
  let body = req.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return res.status(400).json({ error: 'invalid_body' });
    }
  }
  if (!body || typeof body !== 'object' || typeof body.note !== 'string') {
    return res.status(400).json({ error: 'invalid_body' });
  }
  api.note = body.note;
  res.json({ id: req.params.id, note: api.note });
});

app.use((req, res) => res.status(404).json({ error: 'not_found' }));

// Malformed JSON and the like: a JSON error instead of Express's default HTML page with a stack trace.
app.use((err, req, res, next) => {
  res.status(err.status || err.statusCode || 500).json({ error: err.status < 500 ? 'invalid_body' : 'internal' });
});

app.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});
