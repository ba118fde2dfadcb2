#!/usr/bin/env node
import { processContext } from './context.ts';
import { runProgram } from './program.ts';
import { buildDchatTest } from './test-program.ts';

process.exitCode = await runProgram(buildDchatTest(processContext()), process.argv.slice(2));
