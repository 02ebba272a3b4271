export {};
/**
 * `npm run bench -- NAME`: runs tests/bench/NAME.ts (its exported `run()`). Benchmarks print their
 * figures against limits of this machine measured in the same run, never fixed thresholds.
 */
const BENCHES = ["catalog", "orders", "escrow", "recovery", "accrual"] as const;

const benchName = process.argv[2];
if (!benchName || !(BENCHES as readonly string[]).includes(benchName)) {
  console.error(`usage: npm run bench -- <${BENCHES.join("|")}>`);
  process.exit(2);
}
const bench = (await import(`./${benchName}.ts`)) as { run: () => Promise<void> };
try {
  await bench.run();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
