#!/usr/bin/env node
// The executable only loads the compiled CLI; `npm ci` builds it (the `prepare` script).
import { main } from '../dist/src/main.js';

process.exitCode = await main(process.argv);
