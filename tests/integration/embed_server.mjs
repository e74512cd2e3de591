// An OpenAI-compatible (POST /v1/embeddings) and Ollama-compatible
// (POST /api/embed) embedding server for tests/integration/embed_http.sh,
// on 127.0.0.1 and a free port (printed as "PORT n"). Node's http module
// only. Every request is appended to LOG (argv[2]) as one JSON line:
// {t, method, path, auth, ctype, body}.
//
// The vector of a text s has D values (D = the request's "dimensions", or
// 4): v[0] = s.length, v[1] = the code of its first character (0 if
// empty), v[i >= 2] = i. The test can so tell which vector belongs to which
// text. OpenAI items are sent in reverse order (with their "index").
//
// The model name picks a behaviour:
//   any other   normal
//   flaky       1st request 429 (Retry-After: 1), 2nd 500, then normal
//   down        always 500 {"error": {"message": "model is overloaded"}}
//   badjson     200 with a body that is not JSON
//   short       one embedding fewer than texts
//   ragged      the last vector one value shorter (when there are several)
//   huge        a value (1e39) that is not finite as a float
//   noindex     OpenAI items without "index", in input order
//   locked      401 unless "Authorization: Bearer sesame"
//   slow        answers after 3 s
//   missing     404 {"error": "model \"missing\" not found, try pulling it first"} (Ollama)
import http from 'node:http';
import fs from 'node:fs';

const log = process.argv[2];
const counts = new Map();

function vec(s, d) {
	const v = [s.length, s.length ? s.codePointAt(0) : 0];
	for (let i = 2; i < d; i++) v.push(i);
	return v.slice(0, d);
}

function send(res, status, body, headers = {}) {
	const text = typeof body === 'string' ? body : JSON.stringify(body);
	res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
	res.end(text);
}

function handle(req, res, raw) {
	let body = null;
	try { body = JSON.parse(raw); } catch { body = raw; }
	fs.appendFileSync(log, JSON.stringify({
		t: Date.now(), method: req.method, path: req.url,
		auth: req.headers.authorization ?? null, ctype: req.headers['content-type'] ?? null, body,
	}) + '\n');
	const openai = req.url === '/v1/embeddings';
	if (req.method !== 'POST' || (!openai && req.url !== '/api/embed'))
		return send(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
	if (typeof body !== 'object' || !Array.isArray(body.input))
		return send(res, 400, { error: { message: 'expected {"model", "input": [...]}' } });
	const model = body.model;
	const n = (counts.get(model) ?? 0) + 1;
	counts.set(model, n);
	const d = Number.isInteger(body.dimensions) ? body.dimensions : 4;
	let vs = body.input.map((s) => vec(s, d));
	switch (model) {
	case 'flaky':
		if (n === 1) return send(res, 429, { error: { message: 'slow down' } }, { 'Retry-After': '1' });
		if (n === 2) return send(res, 500, { error: { message: 'hiccup' } });
		break;
	case 'down': return send(res, 500, { error: { message: 'model is overloaded' } });
	case 'badjson': return send(res, 200, '{"data": [ {"index": 0, "embedding": [1, 2');
	case 'short': vs = vs.slice(1); break;
	case 'ragged': if (vs.length > 1) vs[vs.length - 1] = vs[vs.length - 1].slice(1); break;
	case 'huge': vs[0][0] = 1e39; break;
	case 'locked':
		if (req.headers.authorization !== 'Bearer sesame')
			return send(res, 401, { error: { message: 'Incorrect API key provided' } });
		break;
	case 'slow':
		setTimeout(() => send(res, 200, { model, embeddings: vs }), 3000);
		return;
	case 'missing':
		return send(res, 404, { error: 'model "missing" not found, try pulling it first' });
	}
	if (!openai) return send(res, 200, { model, embeddings: vs });
	let data = vs.map((embedding, index) => ({ object: 'embedding', index, embedding }));
	if (model === 'noindex') data = data.map(({ object, embedding }) => ({ object, embedding }));
	else data.reverse();
	send(res, 200, { object: 'list', data, model, usage: { prompt_tokens: 0, total_tokens: 0 } });
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
});
server.listen(0, '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
