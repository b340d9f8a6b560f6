//! A real browser for tests: Debian's headless Chromium driven through its chromedriver
//! (/usr/bin/chromedriver, installed by `.ci/run`), with JavaScript on or off and a phone-sized
//! window. A person uses the pages through a browser, so the tests that matter for a person do
//! too: the forms are submitted by Chromium, cookies are kept by Chromium, and what is shown is
//! what Chromium rendered.
//!
//! A missing chromedriver fails the test with the command that installs it. Outside CI a
//! developer may set `BISIK_TEST_BROWSER=skip` to leave the browser tests out (each one prints
//! that it did not run); with `CI` set that is refused, so CI never passes without a browser.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Where Debian's chromedriver lives (package chromium-driver). Override with BISIK_CHROMEDRIVER.
pub fn chromedriver_path() -> PathBuf {
    std::env::var_os("BISIK_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

/// Where Debian's Chromium lives (package chromium). Override with BISIK_CHROMIUM.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("BISIK_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// axe-core's browser bundle, installed with npm by `.ci/run` into the tools folder.
/// Override with BISIK_AXE_JS.
pub fn axe_js_path() -> PathBuf {
    std::env::var_os("BISIK_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let tools = std::env::var("BISIK_TOOLS_DIR")
                .unwrap_or_else(|_| "/var/tmp/bisik-tools".to_owned());
            Path::new(&tools).join("node/node_modules/axe-core/axe.min.js")
        })
}

/// How a browser session is opened.
#[derive(Debug, Clone, Copy)]
pub struct BrowserOpts {
    /// Whether pages may run JavaScript (Tor Browser at "Safest" runs none).
    pub javascript: bool,
    /// Viewport width in CSS pixels.
    pub width: u32,
    /// Viewport height in CSS pixels.
    pub height: u32,
}

impl BrowserOpts {
    /// A cheap phone with JavaScript off: 360 x 800.
    pub fn phone_no_js() -> Self {
        BrowserOpts {
            javascript: false,
            width: 360,
            height: 800,
        }
    }

    /// The same phone with JavaScript on (needed to run axe-core in the page).
    pub fn phone_js() -> Self {
        BrowserOpts {
            javascript: true,
            ..Self::phone_no_js()
        }
    }
}

/// A running chromedriver on a free loopback port; killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Whether the browser tests may be skipped here: only outside CI, and only when asked.
fn skip_allowed() -> bool {
    let asked = std::env::var("BISIK_TEST_BROWSER").is_ok_and(|v| v == "skip");
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    asked && !ci
}

impl Driver {
    fn start() -> Option<Driver> {
        let path = chromedriver_path();
        if !path.exists() {
            if skip_allowed() {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: BISIK_TEST_BROWSER=skip and no {}: this browser test did not run",
                    path.display()
                );
                return None;
            }
            panic!(
                "no chromedriver at {} (install it with `apt-get install -y chromium \
                 chromium-driver`, or run .ci/run which does; outside CI, \
                 BISIK_TEST_BROWSER=skip leaves the browser tests out)",
                path.display()
            );
        }
        let port = free_port();
        let child = Command::new(&path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        let driver = Driver { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(driver)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// One headless Chromium session. Close it with [`Browser::close`]; dropping it kills the driver
/// (and so the browser) anyway.
pub struct Browser {
    /// The WebDriver client, for anything the helpers below do not cover.
    pub client: Client,
    profile: tempfile::TempDir,
    driver: Driver,
    shots: Option<PathBuf>,
}

impl Browser {
    /// Starts chromedriver and opens a session. `None` only when a developer asked to skip the
    /// browser tests outside CI (see the module doc); a missing driver otherwise panics.
    pub async fn start(opts: BrowserOpts) -> Option<Browser> {
        let driver = Driver::start()?;
        let profile = tempfile::tempdir().expect("profile dir");
        // 1 allows, 2 blocks: the content setting Chromium's own "Don't allow sites to use
        // JavaScript" writes.
        let js = if opts.javascript { 1 } else { 2 };
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_path(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-sync",
                    "--hide-scrollbars",
                    format!("--window-size={},{}", opts.width, opts.height),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "profile.managed_default_content_settings.javascript": js,
                    "profile.default_content_setting_values.javascript": js,
                },
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| panic!("open a Chromium session through chromedriver: {e}"));
        let browser = Browser {
            client,
            profile,
            driver,
            shots: None,
        };
        browser.set_viewport(opts.width, opts.height).await;
        Some(browser)
    }

    /// Makes the viewport (not the window) `width` x `height` CSS pixels, so a page is laid out
    /// exactly as on a phone of that width.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
    }

    /// Saves screenshots taken with [`Browser::shot`] into `dir` (created if missing).
    pub fn screenshots_to(&mut self, dir: impl Into<PathBuf>) {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        self.shots = Some(dir);
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The first element matching a CSS selector; panics with the page source when none does.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!(
                "no element {css} ({e}) in:\n{}",
                self.source().await.chars().take(4000).collect::<String>()
            ),
        }
    }

    /// Whether any element matches a CSS selector.
    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
            .is_empty()
    }

    /// Every element matching a CSS selector.
    pub async fn find_all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find_all {css}: {e}"))
    }

    /// Types `text` into the field matching `css`, after clearing it (typing, as a person does;
    /// a `<select>` gets the option whose value is `text`).
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        if el.tag_name().await.is_ok_and(|t| t == "select") {
            el.select_by_value(text)
                .await
                .unwrap_or_else(|e| panic!("select {text} in {css}: {e}"));
            return;
        }
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        el.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks the element matching `css` (for a submit button, waits for the next page).
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// The current page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The current page's title.
    pub async fn title(&self) -> String {
        self.client.title().await.unwrap_or_default()
    }

    /// Runs a DevTools command through chromedriver (works with JavaScript off, since it is
    /// the browser, not the page, that runs it).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let id = self
            .client
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("a session id");
        let url = format!("{}/session/{id}/goog/cdp/execute", self.driver.url());
        let resp = reqwest::Client::new()
            .post(&url)
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("cdp {cmd}: {e}"));
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "cdp {cmd}: {status} {body}");
        body["value"].clone()
    }

    /// A PNG of the whole page (not only the viewport), taken through DevTools so it needs no
    /// JavaScript in the page.
    pub async fn screenshot_png(&self) -> Vec<u8> {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let width = size["width"].as_f64().unwrap_or(360.0).ceil();
        let height = size["height"].as_f64().unwrap_or(800.0).ceil();
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                }),
            )
            .await;
        let b64 = shot["data"].as_str().expect("screenshot data");
        base64_decode(b64)
    }

    /// Saves a whole-page screenshot as `NAME.png` in the folder given to
    /// [`Browser::screenshots_to`] and returns its path (`None` when no folder was given).
    pub async fn shot(&self, name: &str) -> Option<PathBuf> {
        let dir = self.shots.as_ref()?;
        let path = dir.join(format!("{name}.png"));
        let png = self.screenshot_png().await;
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        Some(path)
    }

    /// Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the current page and returns its
    /// violations whose impact is serious or critical, each as "rule: help (targets)".
    /// Needs a session with JavaScript on.
    pub async fn axe_serious(&self) -> Vec<String> {
        let path = axe_js_path();
        let axe = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core not found at {} ({e}); .ci/run installs it with npm into the tools folder",
                path.display()
            )
        });
        self.client
            .execute(&axe, vec![])
            .await
            .unwrap_or_else(|e| panic!("load axe-core: {e}"));
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, {runOnly: {type: 'tag', values: \
                 ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})\
                 .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, \
                 help: v.help, targets: v.nodes.map(n => n.target.join(' '))}))))\
                 .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), targets: []}]));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("run axe-core: {e}"));
        result
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| format!("{}: {} ({})", v["id"], v["help"], v["targets"]))
            .collect()
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(self) {
        let Browser { client, driver, .. } = self;
        let _ = client.close().await;
        drop(driver);
    }
}

/// Standard base64 (the DevTools screenshot encoding), decoded without another dependency.
fn base64_decode(s: &str) -> Vec<u8> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The harness itself: JavaScript off really is off, the viewport is the phone's, and a
/// screenshot is a PNG of the whole page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_runs_chromium_without_javascript() {
    let Some(mut b) = Browser::start(BrowserOpts::phone_no_js()).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    b.screenshots_to(dir.path());
    let page = "data:text/html,<title>before</title><p id=w>x</p>\
                <script>document.title='ran';document.getElementById('w').textContent=innerWidth</script>\
                <div style='height:2000px'></div>";
    b.goto(page).await;
    assert_eq!(
        b.title().await,
        "before",
        "JavaScript ran with JavaScript off"
    );
    assert_eq!(b.text("#w").await, "x");
    let png = std::fs::read(b.shot("page").await.unwrap()).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height, big-endian, at bytes 16..24.
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(w, 360, "screenshot width");
    assert!(
        h >= 2000,
        "screenshot covers the whole page, got height {h}"
    );
    b.close().await;

    let Some(b) = Browser::start(BrowserOpts::phone_js()).await else {
        return;
    };
    b.goto(page).await;
    assert_eq!(
        b.title().await,
        "ran",
        "JavaScript did not run with JavaScript on"
    );
    assert_eq!(b.text("#w").await, "360", "viewport width");
    b.close().await;
}
