#!/usr/bin/env node
// The `write-behind` command (package.json `bin`): the operator's console over a dashboard's operator API.
// Everything is in operator/cli.ts, which tests drive in-process; this file only runs it.
import { processIo, runCli } from './operator/cli.js';

runCli(process.argv.slice(2), processIo()).then((status) => {
  process.exitCode = status;
});
