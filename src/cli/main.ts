#!/usr/bin/env node
import { runCli } from './program.js';

process.title = 'secrets-sidecar';
// Signal listeners are added by `run`; SIGHUP must not kill the process before they are.
process.on('SIGHUP', () => undefined);
const code = await runCli(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, signals: process });
process.exit(code);
