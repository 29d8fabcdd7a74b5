// The example application (used by examples/compose and examples/kubernetes): reads its database password from the rendered file, and again on SIGHUP.
// It writes its pid where the sidecar's notify block looks for it.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';

const SECRETS = '/run/app-secrets/db.env';
let config = {};
function load() {
  config = Object.fromEntries(readFileSync(SECRETS, 'utf8').split('\n').filter(Boolean).map((l) => l.split(/=(.*)/s).slice(0, 2)));
  console.log(`loaded ${Object.keys(config).length} settings`);
}
load();
process.on('SIGHUP', load);
// For notify blocks that find the app by pid file (compose); others match its command line (Kubernetes).
try {
  writeFileSync('/run/app-secrets/app.pid', String(process.pid));
} catch {
  console.log('no pid file written (read-only secrets volume)');
}
http.createServer((_req, res) => res.end(`user=${config.DB_USER}\n`)).listen(8080);
