import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = fileURLToPath(new URL('..', import.meta.url));

describe('npm run demo', () => {
  it('prints every step and sends what the design doc promises', async () => {
    const { stdout } = await run('npx', ['tsx', '--conditions=source', 'src/demo.ts'], { cwd: dir, timeout: 60_000 });
    expect(stdout).toContain('event in: job.status.changed');
    expect(stdout).toContain('(redelivery, nothing new)');
    expect(stdout).toContain('$.total greaterThanInclusive 2000: saw 1999 -> FAIL');
    expect(stdout).toMatch(/\[21:47:00\] {3}-> SMS to \+15557654321: Hi Jane Doe, job #J-5541 for John Smith has been completed\./);
    expect(stdout).toContain('-> Email to manager@CRM.com: "New High-Value Job: #J-9001"');
    expect(stdout).toContain('"jobId":"job_hv_1","clientName":"Acme Corp","value":"2500"');
    expect(stdout).toContain('done: {"skipped":1,"completed":2}');
    expect(stdout.match(/-> SMS/g)).toHaveLength(1);
  }, 60_000);
});
