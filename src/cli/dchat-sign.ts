#!/usr/bin/env node
import { useCompileCache } from './compile-cache.ts';

// Before the rest is loaded, so that it comes from the compile cache.
useCompileCache();
const { processContext } = await import('./context.ts');
const { runProgram } = await import('./program.ts');
const { buildDchatSign } = await import('./sign-program.ts');

process.exitCode = await runProgram(buildDchatSign(processContext()), process.argv.slice(2));
