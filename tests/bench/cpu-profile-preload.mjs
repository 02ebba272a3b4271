// Loaded with `--import` into a web process the orders bench starts (BENCH_CPU_PROF_DIR): Node 20
// refuses --cpu-prof in NODE_OPTIONS, so the profiler is driven through the inspector instead and
// the profile written when the process exits.
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import path from "node:path";

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.start");
  process.once("exit", () => {
    // The main thread's own session answers synchronously, so this runs to the end inside "exit".
    session.post("Profiler.stop", (error, result) => {
      if (!error) writeFileSync(path.join(dir, `web-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
