// `npm run screenshots -w @crm-automation/ui`: the README's screenshots, into docs/screenshots/.
import { fileURLToPath } from 'node:url';
import { captureScreenshots } from '../test/e2e/capture-screenshots.js';

const outDir = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));
const files = await captureScreenshots(outDir);
for (const file of files) console.log(file);
