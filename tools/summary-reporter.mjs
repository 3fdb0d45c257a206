// A node:test reporter that writes {passed, failed, skipped, failures[]} as JSON once the run ends.
// tools/test.mjs runs each tier with it and prints the one closing line: "N passed, N failed".
export default async function* summaryReporter(source) {
  const summary = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for await (const event of source) {
    const data = event.data ?? {};
    const isSuite = data.details?.type === 'suite';
    if (event.type === 'test:pass' && !isSuite) {
      if (data.skip || data.todo) summary.skipped += 1;
      else summary.passed += 1;
    } else if (event.type === 'test:fail') {
      // A failing suite counts only when it failed by itself (a hook or a crash), not through its tests.
      const own = !isSuite || data.details?.error?.failureType !== 'subtestsFailed';
      if (own) {
        summary.failed += 1;
        summary.failures.push(`${data.file ?? ''} :: ${data.name}`);
      }
    }
  }
  yield JSON.stringify(summary) + '\n';
}
