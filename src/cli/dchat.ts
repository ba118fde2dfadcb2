#!/usr/bin/env node
import { processContext } from './context.ts';
import { buildDchat } from './dchat-program.ts';
import { runProgram } from './program.ts';

process.exitCode = await runProgram(buildDchat(processContext()), process.argv.slice(2));
