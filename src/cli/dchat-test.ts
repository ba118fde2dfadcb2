#!/usr/bin/env node
import { useCompileCache } from './compile-cache.ts';

// Before the rest is loaded, so that it comes from the compile cache.
useCompileCache();
const { processContext } = await import('./context.ts');
const { runProgram } = await import('./program.ts');
const { buildDchatTest } = await import('./test-program.ts');

process.exitCode = await runProgram(buildDchatTest(processContext()), process.argv.slice(2));
