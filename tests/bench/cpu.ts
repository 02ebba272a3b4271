import { existsSync, readdirSync, readFileSync } from "node:fs";

/**
 * Where the CPU went during a benchmark (Linux /proc; empty elsewhere), in ms of CPU time: per
 * process, per group of processes a benchmark names, and the machine as a whole.
 */

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** User + system CPU of one process from its /proc/<pid>/stat, null where there is none. */
function statCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return null;
  }
}

/** CPU a process has used so far (ms); null for no pid or a process that is gone. */
export function processCpuMs(pid: number | undefined): number | null {
  return pid ? statCpuMs(pid) : null;
}

export interface CpuSnapshot {
  byPid: Map<number, { group: string; ms: number }>;
  busyMs: number;
  totalMs: number;
}

/** Every process's CPU so far, grouped by `groupOf(pid, cmdline)`, and the machine's busy and total time. */
export function cpuSnapshot(groupOf: (pid: number, cmdline: string) => string): CpuSnapshot {
  const byPid = new Map<number, { group: string; ms: number }>();
  if (!existsSync("/proc/stat")) return { byPid, busyMs: 0, totalMs: 0 };
  const ticks = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      const ms = statCpuMs(pid);
      if (ms !== null) byPid.set(pid, { group: groupOf(pid, cmdline), ms });
    } catch {
      // gone meanwhile
    }
  }
  return { byPid, busyMs: (total - ticks[3] - ticks[4]) * TICK_MS, totalMs: total * TICK_MS };
}

/** CPU used between two snapshots, by group; processes that ended in between are not counted. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): { groups: Map<string, number>; busyMs: number; totalMs: number } {
  const groups = new Map<string, number>();
  for (const [pid, now] of b.byPid) {
    const before = a.byPid.get(pid);
    groups.set(now.group, (groups.get(now.group) ?? 0) + now.ms - (before && before.group === now.group ? before.ms : 0));
  }
  return { groups, busyMs: b.busyMs - a.busyMs, totalMs: b.totalMs - a.totalMs };
}
