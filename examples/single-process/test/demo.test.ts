import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = fileURLToPath(new URL('..', import.meta.url));

/** The demo's output from the heading that contains `title` to the next heading (or the end). */
function section(stdout: string, title: string): string {
  const start = stdout.indexOf(title);
  expect(start, `the demo prints "${title}"`).toBeGreaterThan(-1);
  const next = stdout.indexOf('--- ', start + title.length);
  return stdout.slice(start, next === -1 ? undefined : next);
}

describe('npm run demo', () => {
  it('prints every step and sends what the design doc promises', async () => {
    const { stdout } = await run('npx', ['tsx', '--conditions=source', 'src/demo.ts'], { cwd: dir, timeout: 60_000 });
    expect(stdout).toContain('event in: job.status.changed');
    expect(stdout).toContain('(redelivery, nothing new)');
    expect(stdout).toContain('$.total greaterThanInclusive 2000: saw 1999 -> FAIL');
    expect(stdout).toMatch(/\[21:47:00\] {3}-> SMS to \+15557654321: Hi Jane Doe, job #J-5541 for John Smith has been completed\./);
    expect(stdout).toContain('-> Email to manager@CRM.com: "New High-Value Job: #J-9001"');
    expect(stdout).toContain('"jobId":"job_hv_1","clientName":"Acme Corp","value":"2500"');
    expect(stdout).toContain('$.assignedTechnician.phone present true: saw "+15557654321" -> pass');

    // Re-opened before the delay was over: its run is replaced by the re-opening's, which finds the job open.
    const reopened = section(stdout, 'a job marked Done, then re-opened');
    expect(reopened).toMatch(/superseded: trigger \w+ is the one that will run for job job_def456/);
    expect(reopened).toContain('$.status equal "Done": saw "In Progress" -> FAIL');
    expect(reopened).not.toContain('-> SMS');

    // Three changes to Done within the delay: one run, five minutes after the last, to the technician assigned then.
    const flapping = section(stdout, 'three quick status changes to Done');
    expect(flapping.match(/superseded: trigger \w+ is the one that will run for job job_ghi789/g)).toHaveLength(2);
    expect(flapping).toContain('$.assignedTechnician.phone present true: saw "+15550102030" (the event said "+15557654321") -> pass');
    expect(flapping.match(/-> SMS/g)).toEqual(['-> SMS']);
    expect(flapping).toMatch(/\[21:59:40\] {3}-> SMS to \+15550102030: Hi Sam Rivera, job #J-5543 for Ann Lee has been completed\./);

    // Booked, then moved a day later: the reminder moves with it (09:00 the day before, Chicago time),
    // one stays pending, and it is sent once, at the new time.
    const appointment = section(stdout, 'an appointment booked, then moved');
    const pending = [...appointment.matchAll(/pending reminder \w+: due (\S+) \(America\/Chicago, from the payload\) = (\S+) UTC/g)].map((m) => [m[1], m[2]]);
    expect(pending).toEqual([
      ['2025-07-08T09:00:00.000-05:00', '2025-07-08T14:00:00.000Z'],
      ['2025-07-09T09:00:00.000-05:00', '2025-07-09T14:00:00.000Z'],
    ]);
    expect(appointment.match(/(\d) pending reminder\(s\) for appointment appt_301/g)).toEqual(['1 pending reminder(s) for appointment appt_301', '1 pending reminder(s) for appointment appt_301']);
    expect(appointment).toMatch(/history: rescheduled from 2025-07-08 09:00 to 2025-07-09 09:00 America\/Chicago \(2025-07-08T14:00:00.000Z -> 2025-07-09T14:00:00.000Z UTC\) by event \w+/);
    expect(appointment.match(/-> SMS/g)).toEqual(['-> SMS']);
    expect(appointment).toMatch(/\[2025-07-09 14:00:00\] {3}-> SMS to \+15553217654: Hi Maria Garcia, a reminder of your AC tune-up appointment tomorrow, Thursday July 10 at 10:30 AM\./);

    expect(stdout).toContain('done: {"completed":4,"cancelled":4,"skipped":2}');
    expect(stdout.match(/-> SMS/g)).toHaveLength(3);
  }, 60_000);
});
