// TRex's transport, ZeroMQ (npm zeromq), is a native addon: it must work on a
// fresh box straight after `npm ci`, with nothing compiled, nothing
// downloaded and no install script run (npm 11 runs none unless approved).
// Its package ships prebuilt addons; this loads the one `npm ci` put in
// node_modules, in a process of its own, reads from the kernel which addon
// file that process mapped, and speaks REQ/REP through it. Nothing here
// depends on what npm's cache held before (an offline reinstall would: `npm
// ci` fetches the locked tarballs, never the registry document that a
// reinstall by version needs).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const ZMQ = join(ROOT, 'node_modules', 'zeromq');

describe("the TRex driver's transport", () => {
  it('loads the prebuilt addon npm ci installed (no install script run) and speaks REQ/REP through it', () => {
    const version = JSON.parse(readFileSync(join(ZMQ, 'package.json'), 'utf8')).version as string;
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
    expect(lock.packages['node_modules/zeromq']?.version).toBe(version);
    const script = `
      const { Request, Reply } = require(${JSON.stringify(ZMQ)});
      (async () => {
        const rep = new Reply({ linger: 0 }); await rep.bind('tcp://127.0.0.1:*');
        const req = new Request({ linger: 0 }); req.connect(rep.lastEndpoint);
        await req.send('ping'); const [q] = await rep.receive(); await rep.send(String(q) + ' pong');
        const [a] = await req.receive();
        // The addon this process mapped, as the kernel saw it.
        const maps = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n');
        const addon = maps.map((l) => l.split(/\\s+/).slice(5).join(' ')).find((p) => p.endsWith('.node') && p.includes('zeromq'));
        console.log(JSON.stringify({ answer: String(a), addon })); req.close(); rep.close();
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 }).trim()) as {
      answer: string;
      addon?: string;
    };
    expect(out.answer).toBe('ping pong');
    // One of the package's own prebuilt addons (build/linux/<arch>/node/<libc-abi>-Release/), not one compiled here.
    expect(out.addon, 'the zeromq addon the process loaded').toBeDefined();
    const rel = relative(ZMQ, out.addon ?? '');
    expect(rel).toMatch(new RegExp(`^build/linux/${process.arch}/node/[a-z]+-\\d+-Release/[^/]+\\.node$`));
    // No build of its own: cmake-ts's staging directory exists only where the install script compiled the addon.
    expect(() => readFileSync(join(ZMQ, 'staging', 'CMakeCache.txt'))).toThrow();
  });
});
