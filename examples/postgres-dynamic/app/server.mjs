// An application on dynamic PostgreSQL credentials: it reads them from the file secrets-sidecar renders, holds a
// connection pool, and on SIGHUP re-reads the file and swaps pools: new queries go to a pool that logs in with
// the new credentials, queries already running finish on the old one, which is then closed. GET / answers with
// a query result. Part of the example, not of the sidecar.
//   CREDENTIALS_FILE=/run/app-secrets/db.json PGHOST=127.0.0.1 PGPORT=5432 PORT=8080 node server.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import pg from 'pg';

const credentialsFile = process.env.CREDENTIALS_FILE ?? '/run/app-secrets/db.json';
const port = Number(process.env.PORT ?? 8080);
const log = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);

function openPool() {
  // The file holds {"username", "password"}; the rest of the connection comes from PGHOST, PGPORT, PGDATABASE.
  const { username, password } = JSON.parse(readFileSync(credentialsFile, 'utf8'));
  const pool = new pg.Pool({ user: username, password, database: process.env.PGDATABASE ?? 'postgres', max: 4, idleTimeoutMillis: 5_000 });
  // An idle connection that the server closes (its role dropped) must not crash the app.
  pool.on('error', (error) => log('idle connection error', { message: error.message }));
  return { pool, user: username };
}

let current = openPool();
log('pool opened', { user: current.user });

process.on('SIGHUP', () => {
  let next;
  try {
    next = openPool();
  } catch (error) {
    // A half-written file cannot happen (the sidecar renames into place), but a wrong one can: keep the old pool.
    log('cannot read new credentials; keeping the current pool', { message: error.message });
    return;
  }
  const previous = current;
  current = next;
  log('pool swapped', { user: next.user, previous: previous.user });
  // end() waits for checked-out clients: queries in flight finish on the old credentials.
  previous.pool.end().catch((error) => log('closing the old pool failed', { message: error.message }));
});

const server = createServer(async (req, res) => {
  if (req.url !== '/') return res.writeHead(404).end();
  try {
    const { rows } = await current.pool.query('SELECT current_user AS "user", now() AS "at"');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rows[0]));
  } catch (error) {
    log('query failed', { message: error.message, code: error.code });
    res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: error.code ?? 'query failed' }));
  }
});

server.listen(port, process.env.HOST ?? '0.0.0.0', () => {
  if (process.env.PID_FILE) writeFileSync(process.env.PID_FILE, `${process.pid}\n`);
  log('listening', { port: server.address().port });
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    current.pool.end().finally(() => process.exit(0));
  });
}
