// TRex's transport, ZeroMQ (npm zeromq), is a native addon: it must install
// on a fresh box with nothing compiled and nothing downloaded. Its package
// ships prebuilt addons; this installs it from npm's cache alone (--offline,
// as `npm ci` left it) with its install script not run, and uses it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'dutlab-zmq-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the TRex driver's transport", () => {
  it('installs offline with no install script run, and its prebuilt addon speaks REQ/REP', async () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'zeromq', 'package.json'), 'utf8')).version as string;
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
    expect(lock.packages['node_modules/zeromq']?.version).toBe(version);
    const npm = await execa('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save', '--prefix', dir, `zeromq@${version}`], {
      reject: false,
      cwd: dir,
    });
    expect(npm.exitCode, npm.stderr).toBe(0);
    const script = `
      const { Request, Reply } = require(${JSON.stringify(join(dir, 'node_modules', 'zeromq'))});
      (async () => {
        const rep = new Reply({ linger: 0 }); await rep.bind('tcp://127.0.0.1:*');
        const req = new Request({ linger: 0 }); req.connect(rep.lastEndpoint);
        await req.send('ping'); const [q] = await rep.receive(); await rep.send(String(q) + ' pong');
        const [a] = await req.receive(); console.log(String(a)); req.close(); rep.close();
      })();`;
    expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 }).trim()).toBe('ping pong');
  }, 60_000);
});
