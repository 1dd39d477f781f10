// Drives Debian's Chromium (headless) through the "ASL execution" view of one DAG run, as a user:
// log in on Airflow's login page, open the run's ASL execution tab inside Airflow's UI, then the
// view itself; read every state node's status, click a state and read its output. Prints one JSON
// line with what it saw; screenshots go to the output folder. Usage:
//   node execution_view.mjs <base url> <user> <password> <dag id> <run id> <state to click> <out dir>
import { chromium } from "playwright-core";
import path from "node:path";

const [base, user, password, dagId, runId, clickState, outDir] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const seen = { screenshots: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const offsite = [];
  page.on("request", (r) => { if (!/^(data:|blob:)/.test(r.url()) && !r.url().startsWith(base)) offsite.push(r.url()); });

  // Airflow's own login page (the Simple auth manager's form)
  await page.goto(`${base}/auth/login/`, { waitUntil: "domcontentloaded" });
  await page.locator('input[name="username"]').fill(user);
  await page.locator('input[name="password"]').fill(password);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith("/auth/login"), { timeout: 60000 }),
    page.locator('button[type="submit"]').click()]);

  // the tab Airflow's UI shows on the DAG run (the plugin's external view, in an iframe)
  const runPath = `/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}`;
  await page.goto(`${base}${runPath}/plugin/asl-execution`, { waitUntil: "domcontentloaded" });
  const frame = page.frameLocator('iframe[title="ASL execution"]');
  await frame.locator("#diagram [data-state]").first().waitFor({ timeout: 60000 });
  seen.inUi = await frame.locator("#diagram [data-state]").count();
  const inUiShot = path.join(outDir, "airflow-run-tab.png");
  await page.screenshot({ path: inUiShot });
  seen.screenshots.push(inUiShot);

  // the view on its own page
  const view = `${base}/asl-airflow/executions/${encodeURIComponent(dagId)}/${encodeURIComponent(runId)}`;
  await page.goto(view, { waitUntil: "load" });
  seen.nodes = await page.$$eval("#diagram [data-state]", (nodes) =>
    Object.fromEntries(nodes.map((n) => [n.getAttribute("data-state"), n.getAttribute("data-status")])));
  seen.colors = await page.$$eval("#diagram [data-state]", (nodes) =>
    Object.fromEntries(nodes.map((n) => [n.getAttribute("data-state"),
      (n.querySelector("path, polygon") || n).getAttribute("stroke")])));
  seen.catchEdges = await page.$$eval('#diagram [data-kind="catch"]', (edges) => edges.map((e) => ({
    dashed: !!e.querySelector('path[stroke-dasharray]'), label: (e.querySelector("text") || {}).textContent || "" })));
  seen.status = await page.locator("#execution-status").textContent();
  await page.locator(`#diagram [data-state="${clickState.replace(/"/g, '\\"')}"]`).click();
  await page.locator("#panel-output").waitFor();
  seen.panelTitle = await page.locator("#panel-title").textContent();
  seen.output = await page.locator("#panel-output").textContent();
  seen.asl = await page.locator("#panel pre").last().textContent();
  await page.locator("#event-filter").fill("Failed");
  seen.filteredRows = await page.locator("#events tbody tr").count();
  seen.totalRows = (await page.locator("#event-count").textContent()).trim();
  await page.locator("#event-filter").fill("");
  const viewShot = path.join(outDir, "execution-view.png");
  await page.screenshot({ path: viewShot, fullPage: false });
  seen.screenshots.push(viewShot);
  seen.offsite = offsite;
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(seen) + "\n");
