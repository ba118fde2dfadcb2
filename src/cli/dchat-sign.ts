#!/usr/bin/env node
import { runBin } from './compile-cache.ts';

await runBin(async () => (await import('./sign-program.ts')).buildDchatSign);
