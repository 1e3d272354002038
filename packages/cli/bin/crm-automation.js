#!/usr/bin/env node
// Resolves the package by its own name, so `node --conditions=source` (with tsx) runs the sources.
import { runCli } from '@crm-automation/cli';

process.exitCode = await runCli(process.argv);
