#!/usr/bin/env node
import { runBin } from './compile-cache.ts';

await runBin(async () => (await import('./dchat-program.ts')).buildDchat);
