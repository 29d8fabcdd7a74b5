#!/usr/bin/env node
import { startCli } from './start.js';

await startCli();
