// The lease's shell on the DUT host, the one machine every controller sees.
// Every operation is one `sh` script holding flock(1) on `<lease>.state/mutex`
// from its first read to its last write: a take, a takeover, a heartbeat, a
// release and a quarantine are each atomic against every other controller
// (CSIT reserves with an atomic mkdir; a takeover needs a compare-and-swap,
// which mkdir alone cannot give: two takers that both saw the lease expired
// would both remove it and both make it again).
//
// On the DUT host:
//   <path>/owner              the lease, one line (exists while it is held; the lock of earlier versions)
//   <path>.state/generation   the fencing token: only ever grows, also across releases
//   <path>.state/quarantine   present while the lab is quarantined: since=, by=, reason=
//   <path>.state/history      one line per take, takeover, release, loss, quarantine (the last 1000)
// Times are the DUT host's `date +%s`: expiry is judged on one clock whoever asks.
import { shq } from '../transport/quote.js';

/** Exit codes of the scripts: the lease is someone else's, the lab quarantined, the mutex not had in time. */
export const HELD = 3;
export const QUARANTINED = 4;
export const BUSY = 75;
export const LEASE_EXITS = [0, HELD, QUARANTINED, BUSY];

const MUTEX_WAIT_S = 10;
const HISTORY_LINES = 1000;

/** Where the lease's files are, for a lease path. */
export const stateDirOf = (path: string) => `${path}.state`;

/** A lease id: letters, digits, dashes (it goes into a sed expression and a case pattern). */
export const LEASE_ID = /^[a-z0-9-]{6,64}$/;

function checkId(id: string): string {
  if (!LEASE_ID.test(id)) throw new Error(`lease id ${JSON.stringify(id)}: expected ${LEASE_ID}`);
  return id;
}

/** A script body run holding the mutex, with $L (the lease), $S (its state dir), $now and $cur (the owner line) set. */
function locked(path: string, ttlSeconds: number, body: string[]): string {
  return [
    `L=${shq(path)}; S=${shq(stateDirOf(path))}; TTL=${Math.floor(ttlSeconds)}`,
    'mkdir -p "$S" || exit 74',
    '{',
    `flock -w ${MUTEX_WAIT_S} 9 || { echo "busy: another controller held the lease's mutex for ${MUTEX_WAIT_S} s"; exit ${BUSY}; }`,
    'now=$(date +%s); cur=; [ -d "$L" ] && { cur=$(head -n 1 "$L/owner" 2>/dev/null); [ -n "$cur" ] || cur="an unknown run"; }',
    // A lease that says when it expires; one of an earlier version (the lock) expires TTL after its file last changed.
    'exp=$(printf "%s\\n" "$cur" | sed -n "s/.* expires=\\([0-9][0-9]*\\).*/\\1/p")',
    '[ -n "$cur" ] && [ -z "$exp" ] && exp=$(( $(stat -c %Y "$L/owner" 2>/dev/null || stat -c %Y "$L" 2>/dev/null || echo 0) + TTL ))',
    // The generation: what the file says, and never below the lease's own (a state dir removed by hand).
    'g=$(cat "$S/generation" 2>/dev/null); case "$g" in ""|*[!0-9]*) g=0;; esac',
    'lg=$(printf "%s\\n" "$cur" | sed -n "s/.* gen=\\([0-9][0-9]*\\).*/\\1/p"); [ -n "$lg" ] && [ "$lg" -gt "$g" ] && g=$lg',
    // The history's times to the nanosecond where date has them: who held the lab when, to compare with a run's own record.
    `hist() { t=$(date +%s.%N 2>/dev/null); case "$t" in *N|"") t=$now;; esac; echo "$t $*" >> "$S/history"; n=$(wc -l < "$S/history"); [ "$n" -gt ${HISTORY_LINES} ] && { tail -n ${HISTORY_LINES} "$S/history" > "$S/history.tmp" && mv "$S/history.tmp" "$S/history"; }; true; }`,
    ...body,
    '} 9>"$S/mutex"',
  ].join('\n');
}

export interface LeaseTakeOptions {
  path: string;
  /** The owner line's fixed part (formatOwner): who takes it. */
  owner: string;
  leaseId: string;
  ttlSeconds: number;
  /** Take it even from a live owner, if the owner line is still exactly this one (its process is provably dead). */
  fromOwner?: string;
}

/**
 * Takes the lease: free, expired, or (`fromOwner`) held by a provably dead
 * run. Prints `taken <generation> <now> <expires>`, and for a takeover
 * `previous: <line>` and `expired: <seconds ago>` (-1: its owner is dead).
 * Exit HELD with `held: <line>` and `left: <seconds>`; QUARANTINED with
 * `quarantined: <line>`.
 */
export function takeScript(o: LeaseTakeOptions): string {
  const id = checkId(o.leaseId);
  const dead = o.fromOwner === undefined ? 'false' : `[ "$cur" = ${shq(o.fromOwner)} ]`;
  return locked(o.path, o.ttlSeconds, [
    'if [ -f "$S/quarantine" ]; then echo "quarantined: $(head -n 1 "$S/quarantine")"; exit 4; fi',
    'prev=; ago=',
    'if [ -n "$cur" ]; then',
    `  if ${dead}; then ago=-1`,
    '  elif [ "$now" -gt "$exp" ]; then ago=$((now - exp))',
    '  else echo "held: $cur"; echo "left: $((exp - now))"; exit 3; fi',
    '  prev=$cur; rm -rf "$L"',
    'fi',
    'g=$((g + 1)); echo "$g" > "$S/generation.tmp" && mv "$S/generation.tmp" "$S/generation" || exit 74',
    'mkdir "$L" || exit 74',
    `printf '%s lease=%s gen=%s taken=%s beat=%s expires=%s\\n' ${shq(o.owner)} ${id} "$g" "$now" "$now" "$((now + TTL))" > "$L/owner" || exit 74`,
    `if [ -n "$prev" ]; then hist "takeover gen=$g lease=${id} by "${shq(o.owner)}" from: $prev"; else hist "take gen=$g lease=${id} by "${shq(o.owner)}; fi`,
    'echo "taken $g $now $((now + TTL))"',
    '[ -n "$prev" ] && { echo "previous: $prev"; echo "expired: $ago"; }',
    'exit 0',
  ]);
}

/** The lease as this holder knows it: the pattern its owner line must match. */
const mine = (id: string, generation: number) => `*" lease=${checkId(id)} gen=${Math.floor(generation)} "*`;

/**
 * Renews the lease if it is still this holder's and has not expired on the
 * DUT host's clock. Prints `ok <now> <expires>`; else exit HELD with
 * `lost: <line or nobody>` (taken over, released by `pool release --lease`),
 * or `expired: <seconds ago>` (nobody took it yet, but anybody could have).
 */
export function beatScript(path: string, id: string, generation: number, ttlSeconds: number): string {
  return locked(path, ttlSeconds, [
    `case "$cur" in ${mine(id, generation)}) ;; *) echo "lost: \${cur:-nobody holds it}"; exit 3;; esac`,
    'if [ "$now" -gt "$exp" ]; then echo "expired: $((now - exp))"; hist "expired gen=$g lease=' +
      checkId(id) +
      ' (its holder came back $((now - exp)) s late)"; exit 3; fi',
    'new=$(printf "%s\\n" "$cur" | sed "s/ beat=[0-9]* expires=[0-9]*\\$/ beat=$now expires=$((now + TTL))/")',
    'printf "%s\\n" "$new" > "$L/owner.tmp" && mv "$L/owner.tmp" "$L/owner" || exit 74',
    'echo "ok $now $((now + TTL))"',
  ]);
}

/** Gives the lease back if it is still this holder's. Prints `released`, or `not-held: <line>`. */
export function releaseScript(path: string, id: string, generation: number): string {
  return locked(path, 1, [
    `case "$cur" in ${mine(id, generation)}) rm -rf "$L"; hist "release gen=${Math.floor(generation)} lease=${checkId(id)}"; echo released;; *) echo "not-held: \${cur:-nobody}";; esac`,
  ]);
}

/** Quarantines the lab, naming why and by whom, whoever holds the lease. One line: newlines become spaces. */
export function quarantineScript(path: string, by: string, reason: string): string {
  const line = (s: string) => s.replace(/\s+/g, ' ').trim();
  return locked(path, 1, [
    `printf 'since=%s by=%s reason=%s\\n' "$now" ${shq(line(by).replace(/ /g, '_'))} ${shq(line(reason))} > "$S/quarantine" || exit 74`,
    `hist ${shq(`quarantine by ${line(by)}: ${line(reason)}`)}`,
    'echo quarantined',
  ]);
}

/** What a broken lease's owner line begins with: a tombstone that holds the lab until the broken holder's last renewal runs out. */
export const BROKEN_RUN = 'broken-lease';

/** An owner line that is a broken lease's tombstone. */
export const isBrokenLease = (line: string | undefined): boolean => line?.startsWith(`${BROKEN_RUN} `) === true;

/**
 * Lifts the quarantine; with `breakLease`, also ends whoever holds the lease:
 * the generation moves on, so its holder, if it lives, is fenced out at its
 * next renewal. The lease is not freed at once: a tombstone holds it until
 * the broken holder's last renewal would have expired, so that the holder's
 * own validity (shorter, on its own clock) runs out, and it stops, before
 * another run's first command. Prints `broken: <line>` and `untakeable: <s>`.
 */
export function releaseLabScript(path: string, by: string, breakLease: boolean): string {
  const who = by.replace(/\s+/g, '_');
  return locked(path, 1, [
    `if [ -f "$S/quarantine" ]; then rm -f "$S/quarantine"; hist ${shq(`unquarantine by ${who}`)}; echo unquarantined; fi`,
    ...(breakLease
      ? [
          `case "$cur" in "" | "${BROKEN_RUN} "*) ;; *)`,
          '  g=$((g + 1)); echo "$g" > "$S/generation"; left=$((exp - now)); [ "$left" -lt 0 ] && left=0',
          `  printf '%s %s host=%s boot=broken pid=0 start=0 lease=broken-%s gen=%s taken=%s beat=%s expires=%s\\n' ${BROKEN_RUN} "$(date -u +%Y-%m-%dT%H:%M:%SZ)" ${shq(who)} "$g" "$g" "$now" "$now" "$((now + left))" > "$L/owner.tmp" && mv "$L/owner.tmp" "$L/owner" || exit 74`,
          `  hist "broken gen=$g by "${shq(who)}" from: $cur (untakeable for $left s)"; echo "broken: $cur"; echo "untakeable: $left";;`,
          'esac',
        ]
      : []),
    'true',
  ]);
}

/** Reads the lease and the quarantine without the mutex (a read; what it shows may change the next second). */
export function statusScript(path: string): string {
  const L = shq(path);
  const S = shq(stateDirOf(path));
  return [
    'echo "now: $(date +%s)"',
    `[ -d ${L} ] && echo "lease: $(head -n 1 ${L}/owner 2>/dev/null || echo 'an unknown run')" && echo "mtime: $(stat -c %Y ${L}/owner 2>/dev/null || stat -c %Y ${L})"`,
    `echo "generation: $(cat ${S}/generation 2>/dev/null || echo 0)"`,
    `[ -f ${S}/quarantine ] && echo "quarantine: $(head -n 1 ${S}/quarantine)"`,
    'true',
  ].join('\n');
}

/** The lease's history on the DUT host, oldest first. */
export const historyScript = (path: string) => `cat ${shq(`${stateDirOf(path)}/history`)} 2>/dev/null; true`;
