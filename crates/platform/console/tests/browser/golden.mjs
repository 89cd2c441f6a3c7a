// The console's golden path in headless Chromium (Debian's package, driven by playwright-core),
// against a real consortium started by the Rust test that runs this script
// (crates/tools/cli/tests/it/console.rs). Every page is checked by axe-core (no serious or
// critical violation) and saved as a screenshot.
//
// Environment: CONSOLE_URL, PASSWORD_FILE (lines "org username password"), TX_ID, CHAIN,
// SCREENSHOTS (a directory), CHROMIUM (default /usr/bin/chromium).
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { strict as assert } from "node:assert";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const base = process.env.CONSOLE_URL;
const chain = process.env.CHAIN || "main";
const txId = process.env.TX_ID;
const shots = process.env.SCREENSHOTS;
assert.ok(base && txId && shots && process.env.PASSWORD_FILE, "CONSOLE_URL, TX_ID, SCREENSHOTS and PASSWORD_FILE are needed");
mkdirSync(shots, { recursive: true });
const logins = readFileSync(process.env.PASSWORD_FILE, "utf8")
  .split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((l) => l.split(/\s+/))
  .map(([org, username, password]) => ({ org, username, password }));
assert.ok(logins.length >= 2, "two orgs to sign in as");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

let checked = 0;
const pagesSeen = [];

// axe-core on the page as it is; the page's own CSP forbids inline scripts, so the test
// context bypasses it to inject the checker.
async function audit(page, name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `${name}: accessibility violations ${JSON.stringify(bad, null, 2)}`);
  checked += 1;
}

async function visit(page, path, name, expect) {
  const resp = await page.goto(base + path);
  assert.ok(resp && resp.status() < 400, `${name}: ${path} answered ${resp && resp.status()}`);
  if (expect) {
    await page.getByText(expect, { exact: false }).first().waitFor();
  }
  await shot(page, name);
}

async function shot(page, name) {
  await audit(page, name);
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  pagesSeen.push(name);
}

async function signIn(page, who) {
  await page.goto(base + "/login");
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  await Promise.all([page.waitForURL(base + "/"), page.getByRole("button", { name: "Sign in" }).click()]);
}

try {
  const [a, b] = logins;
  // English, in Shanghai: dates follow the browser's zone until the account picks one.
  const ctxA = await browser.newContext({ locale: "en-US", timezoneId: "Asia/Shanghai", bypassCSP: true, viewport: { width: 1280, height: 900 } });
  const pa = await ctxA.newPage();
  const errors = [];
  pa.on("pageerror", (e) => errors.push(String(e)));

  await pa.goto(base + "/login");
  await shot(pa, "01-sign-in");
  // A wrong password is refused on the page.
  await pa.getByLabel("Username").fill(a.username);
  await pa.getByLabel("Password", { exact: true }).fill("not the password at all");
  await pa.getByRole("button", { name: "Sign in" }).click();
  await pa.getByRole("alert").waitFor();
  assert.match(await pa.getByRole("alert").innerText(), /UNAUTHENTICATED/);

  await signIn(pa, a);
  await pa.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
  const t = await pa.locator("time").first().innerText();
  assert.match(t, /GMT\+8|CST/, `times are shown in the browser's zone: ${t}`);
  await shot(pa, "02-overview");

  // A consortium, created from its form.
  await visit(pa, "/consortia", "03-consortia", "Create a consortium");
  await pa.getByLabel("Name").fill("Trade finance");
  await pa.getByLabel(/Description/).fill("Letters of credit between banks and ports");
  await pa.getByRole("button", { name: "Create" }).click();
  await pa.getByText("The consortium was created.").waitFor();
  const consortiumUrl = pa.url().split("?")[0];
  await shot(pa, "04-consortium");

  // Invite the second org: a proposal the founder alone carries.
  await pa.getByLabel("Org", { exact: true }).selectOption(b.org);
  await pa.getByLabel(/Message/).fill("Join our trade finance chain");
  await pa.getByRole("button", { name: "Propose the invitation" }).click();
  await pa.waitForURL(/\/proposals\//);
  for (let i = 0; i < 100 && !(await pa.getByText("executed", { exact: true }).count()); i++) {
    await pa.waitForTimeout(100);
    await pa.reload();
  }
  await pa.getByText("executed", { exact: true }).first().waitFor();
  await shot(pa, "05-proposal");

  // The second org accepts, in its own session.
  const ctxB = await browser.newContext({ locale: "en-US", bypassCSP: true, viewport: { width: 1280, height: 900 } });
  const pb = await ctxB.newPage();
  await signIn(pb, b);
  await visit(pb, "/consortia", "06-invitation", "Invitations to my org");
  await pb.getByRole("button", { name: "Accept" }).first().click();
  await pb.getByText("Invitation accepted").waitFor();
  await shot(pb, "07-member");

  // Leaving asks first; dismissing keeps the org in.
  pb.once("dialog", (d) => d.dismiss());
  await pb.getByRole("button", { name: "Leave the consortium" }).click();
  assert.ok(pb.url().startsWith(consortiumUrl.replace(/^https?:\/\/[^/]+/, base)), "still on the consortium page");
  await pb.getByText("Invitation accepted").waitFor();

  // A network with a node for each member, proposed on the consortium page; the other member
  // approves from the proposal's page.
  async function carried(page, proposalUrl) {
    for (let i = 0; i < 600; i++) {
      await page.goto(proposalUrl);
      if (await page.locator(".badge", { hasText: /^executed$/ }).count()) { return; }
      if (await page.locator(".badge", { hasText: /^(failed|rejected|expired)$/ }).count()) {
        throw new Error(`proposal ${proposalUrl} did not pass: ${await page.locator("main").innerText()}`);
      }
      await page.waitForTimeout(200);
    }
    throw new Error(`proposal ${proposalUrl} was not carried out`);
  }
  async function approveAsB(proposalUrl) {
    await pb.goto(proposalUrl);
    await pb.getByRole("button", { name: "Approve" }).click();
    await pb.getByText("Your vote was recorded.").waitFor();
  }
  async function operationSucceeds(page, name) {
    await page.getByRole("link", { name: "Follow the operation" }).click();
    await page.waitForURL(/\/operations\//);
    for (let i = 0; i < 600 && !(await page.locator(".badge", { hasText: /^succeeded$/ }).count()); i++) {
      if (await page.locator(".badge", { hasText: /^failed$/ }).count()) {
        throw new Error(`${name} failed: ${await page.locator("main").innerText()}`);
      }
      await page.waitForTimeout(200);
      await page.reload();
    }
    await page.locator(".badge", { hasText: /^succeeded$/ }).waitFor();
  }
  await pa.goto(consortiumUrl);
  await pa.locator("#n-name").fill("net1");
  await pa.locator('form[action$="/networks"] button[type=submit]').click();
  await pa.waitForURL(/\/proposals\//);
  const netProposal = pa.url().split("?")[0];
  await shot(pa, "08-network-proposal");
  await approveAsB(netProposal);
  await carried(pa, netProposal);

  // A chain on the new network, through the guided form; approved the same way, the platform
  // deploys its nodes as an operation whose progress has a page.
  await visit(pa, "/networks", "10-networks", "net1");
  await pa.getByRole("link", { name: "net1" }).click();
  await pa.locator("#c-id").fill("trade");
  await pa.locator("#c-pol-contracts-upgrade").selectOption("ANY");
  await pa.locator('form[action$="/chains"] button[type=submit]').click();
  await pa.waitForURL(/\/proposals\//);
  const chainProposal = pa.url().split("?")[0];
  await approveAsB(chainProposal);
  await carried(pa, chainProposal);
  await operationSucceeds(pa, "creating the chain");
  await shot(pa, "09-operation");

  // A node's page: its status and, for the org running it, its log with search; another
  // member sees the node but not its log.
  await pa.goto(base + "/networks");
  await pa.getByRole("link", { name: "net1" }).click();
  await pa.getByRole("link", { name: new RegExp("^" + a.org + "-") }).first().click();
  await pa.getByRole("heading", { name: "Recent log" }).waitFor();
  const nodeUrl = pa.url();
  await pa.getByLabel("Lines holding").fill("trade");
  await pa.getByRole("button", { name: "Search" }).click();
  await pa.locator("pre.log").waitFor();
  assert.match(await pa.locator("pre.log").innerText(), /trade/i);
  await shot(pa, "10b-node");
  await pb.goto(nodeUrl);
  await pb.getByText("Only the org running this node reads its log.").waitFor();

  // A contract uploaded on the chain's page; the chain's policy lets one member's admin
  // install it, so the proposer's own vote carries it.
  await visit(pa, "/chains/trade", "11-chain", "Propose a contract");
  const upgradeRow = pa.locator("tr", { has: pa.locator("code", { hasText: /^contracts\.upgrade$/ }) });
  assert.match(await upgradeRow.innerText(), /ANY/, "the chain took the policy chosen in the form");
  // Checked first: the findings page says nothing blocks it.
  await pa.locator("#k-name").fill("evidence");
  await pa.locator("#k-module").setInputFiles(process.env.CONTRACT_WASM);
  await pa.locator('form[action$="/contracts"] button[value=check]').click();
  await pa.getByText("No finding blocks this module").waitFor();
  await shot(pa, "11b-contract-checks");
  await pa.goto(base + "/chains/trade");
  await pa.locator("#k-name").fill("evidence");
  await pa.locator("#k-module").setInputFiles(process.env.CONTRACT_WASM);
  await pa.locator('form[action$="/contracts"] button[value=propose]').click();
  await pa.waitForURL(/\/proposals\//);
  const contractProposal = pa.url().split("?")[0];
  await carried(pa, contractProposal);
  await shot(pa, "12-contract-proposal");
  await pa.goto(base + "/chains/trade");
  await pa.getByRole("link", { name: "evidence" }).first().waitFor();
  // Invoke it from its page (a transaction the platform signs for the org), then query it.
  const evidence = "a3f1c2d4e5b60718293a4b5c6d7e8f90";
  await pa.goto(base + "/explorer/trade/contracts/evidence");
  await pa.getByLabel("Method").fill("put");
  await pa.getByLabel("Arguments (JSON)").fill(JSON.stringify({ hash: evidence, meta: "bill of lading 42" }));
  await pa.getByRole("button", { name: "Invoke" }).click();
  await pa.getByRole("heading", { name: "Invoked" }).waitFor();
  assert.match(await pa.locator("main").innerText(), /platform-client/);
  await shot(pa, "13-invoked");
  await pa.getByLabel("Method").fill("get");
  await pa.getByLabel("Arguments (JSON)").fill(JSON.stringify({ hash: evidence }));
  await pa.getByRole("button", { name: "Query" }).click();
  await pa.getByRole("heading", { name: "Queried" }).waitFor();
  assert.match(await pa.locator("pre").first().innerText(), /bill of lading 42/);
  await visit(pa, "/explorer/trade", "13-explorer-trade", "evidence.put");
  // A contract written in the browser: the editor numbers and colours its lines; checking
  // builds it on the platform (rules, compiler, clippy, module) and lists findings by line.
  await visit(pa, "/chains/trade/contracts/source", "13b-editor", "Contract editor");
  assert.equal(await pa.locator(".editor-gutter").count(), 1, "the editor draws its line numbers");
  assert.ok(await pa.locator(".editor-layer .tk-keyword").count() > 10, "the editor colours Rust");
  // A careless read: it panics when the note is missing.
  const starter = await pa.locator("#e-source").inputValue();
  await pa.locator("#e-source").fill(starter.replace(
    "Ok(ctx.get_string(a.key.as_bytes()))", "Ok(Some(ctx.get_string(a.key.as_bytes()).unwrap()))"));
  await pa.locator('form[action$="/contracts/source"] button[value=check]').click();
  await pa.locator("#findings").waitFor({ timeout: 240000 });
  await pa.getByText("Built and checked").waitFor();
  assert.match(await pa.locator("#findings").innerText(), /panic-in-method/);
  assert.ok(await pa.locator("a.goto-line").count() > 0, "findings link to their lines");
  assert.ok(await pa.locator(".editor-gutter .flagged").count() > 0, "the editor marks their lines");
  await shot(pa, "13c-editor-checked");

  // The explorer: figures, the trend, and the live tables refreshing by themselves.
  await pa.goto(base + "/explorer");
  await pa.getByRole("link", { name: chain, exact: true }).click();
  await pa.getByText("Transactions per block").first().waitFor();
  await shot(pa, "14-explorer");
  const refreshed = pa.evaluate(() => new Promise((ok) => document.addEventListener("covenant:refreshed", () => ok(true), { once: true })));
  assert.equal(await refreshed, true);
  // Find the transaction by its id.
  await pa.getByRole("searchbox").fill(txId);
  await pa.getByRole("button", { name: "Search" }).click();
  await pa.waitForURL(new RegExp(`/explorer/${chain}/txs/${txId}`));
  await pa.getByText("proof valid").waitFor();
  await shot(pa, "15-transaction");
  await pa.getByRole("link", { name: /^\d+$/ }).first().click();
  await pa.getByText("Commit certificate").waitFor();
  await shot(pa, "16-block");
  await visit(pa, `/explorer/${chain}/blocks`, "17-blocks", "Height");
  await visit(pa, `/explorer/${chain}/contracts/kv`, "18-contract", "Methods");

  await visit(pa, "/events", "19-events", "Proposals");
  await visit(pa, "/networks", "20-networks", "Networks");
  await visit(pa, `/chains/${chain}`, "21-chain", "Consensus nodes");
  await visit(pa, "/audit", "22-audit", "Audit log");
  await visit(pa, "/account", "23-account", "API tokens");
  await visit(pa, "/accounts", "24-accounts", "Create a sub-account");
  await visit(pa, "/certificates", "24b-certificates", "Fingerprint (SHA-256)");
  await visit(pa, "/certificates/requests", "24c-cert-requests", "Request a certificate");
  await visit(pa, "/monitoring", "24d-monitoring", "Add a rule");
  await visit(pa, new URL(nodeUrl).pathname, "24e-node-metrics", "Metrics (last hour)");

  // A sortable table sorts from the keyboard.
  await pa.goto(base + "/audit");
  const seqHead = pa.getByRole("columnheader", { name: "Seq" });
  await seqHead.focus();
  await pa.keyboard.press("Enter");
  assert.equal(await seqHead.getAttribute("aria-sort"), "ascending");

  // 简体中文, chosen from the switcher, kept on the account.
  await pa.goto(base + "/");
  await Promise.all([pa.waitForNavigation(), pa.getByLabel("Language").selectOption("zh-CN")]);
  await pa.getByRole("heading", { level: 1, name: "概览" }).waitFor();
  await shot(pa, "25-overview-zh");
  await visit(pa, `/explorer/${chain}`, "26-explorer-zh", "每个区块的交易数");
  const other = await browser.newContext({ locale: "en-US", bypassCSP: true });
  const po = await other.newPage();
  await signIn(po, a);
  await po.getByRole("heading", { level: 1, name: "概览" }).waitFor();

  assert.deepEqual(errors, [], "no script errors on any page");
  console.log(JSON.stringify({ ok: true, pages: pagesSeen, axe_checked: checked }));
} finally {
  await browser.close();
}
