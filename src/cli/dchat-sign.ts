#!/usr/bin/env node
import { processContext } from './context.ts';
import { runProgram } from './program.ts';
import { buildDchatSign } from './sign-program.ts';

process.exitCode = await runProgram(buildDchatSign(processContext()), process.argv.slice(2));
