//! A real headless browser for the tests: Debian's `chromium` driven through `chromedriver`
//! (WebDriver, by `fantoccini`), for pages the tools write or serve (the audit report, the
//! wallet's dashboard).
//!
//! Each [`Browser`] starts its own chromedriver on an ephemeral loopback port (`--port=0`; it is
//! ready when it prints the port it took) and its own Chromium with a fresh profile directory,
//! headless, with background networking, component updates and sync off: the machine has no
//! network beyond loopback, and Chromium's own connections would otherwise fail and be logged.
//! Before any page script runs, [`Browser::open`] installs a collector of uncaught errors,
//! unhandled rejections, failed resource loads and `console.error` calls (through chromedriver's
//! DevTools passthrough), so [`Browser::console_errors`] sees everything a page did wrong, and
//! the browser's own log is read as well.
//!
//! `.ci/run` installs `chromium` and `chromium-driver` when they are missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// Where Debian puts the browser and its driver.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// See [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to say it is listening.
const DRIVER_START: Duration = Duration::from_secs(30);

/// Runs in every page before its own scripts: keeps every error in `window.__testigoErrors`.
const ERROR_COLLECTOR: &str = r#"
window.__testigoErrors = [];
window.addEventListener('error', function (e) {
  var what = e.message || ((e.target && (e.target.src || e.target.href)) ? 'failed to load ' + (e.target.src || e.target.href) : 'error');
  window.__testigoErrors.push(what);
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__testigoErrors.push('unhandled rejection: ' + String(e.reason));
});
(function () {
  var original = console.error;
  console.error = function () {
    window.__testigoErrors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
})();
"#;

/// A chromedriver-specific command: `POST /session/{id}/<path>` with a JSON body.
#[derive(Debug)]
struct SessionPost {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (hyper::http::Method, Option<String>) {
        (hyper::http::Method::POST, Some(self.body.to_string()))
    }
}

/// A headless Chromium session and the chromedriver behind it; [`Browser::close`] ends both
/// (dropping it kills chromedriver, which ends Chromium).
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// Whether the browser and its driver are installed (`.ci/run` installs them).
pub fn installed() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    ///
    /// # Panics
    /// If either is missing or does not start: the test cannot run without them.
    pub async fn start() -> Self {
        assert!(
            installed(),
            "{CHROMIUM} and {CHROMEDRIVER} are needed: apt-get install chromium chromium-driver (.ci/run does)"
        );
        let mut driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let stdout = driver.stdout.take().expect("chromedriver's stdout");
        let port = tokio::time::timeout(DRIVER_START, async {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await.expect("chromedriver's output") {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let port: u16 = rest.trim_end_matches('.').trim().parse().expect("a port");
                    // Keep draining its output so chromedriver never blocks on a full pipe.
                    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                    return port;
                }
            }
            panic!("chromedriver exited before it was ready");
        })
        .await
        .expect("chromedriver ready in time");
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut capabilities = Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Self {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The WebDriver client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` with the error collector installed before the page's own scripts, and waits
    /// for the page to load.
    ///
    /// # Panics
    /// If the browser refuses the command.
    pub async fn open(&self, url: &str) {
        self.client
            .issue_cmd(SessionPost {
                path: "goog/cdp/execute",
                body: json!({
                    "cmd": "Page.addScriptToEvaluateOnNewDocument",
                    "params": { "source": ERROR_COLLECTOR },
                }),
            })
            .await
            .expect("the error collector installs");
        self.client.goto(url).await.expect("the page opens");
    }

    /// Opens a local file.
    pub async fn open_file(&self, path: &Path) {
        let path = path.canonicalize().expect("the page exists");
        self.open(&format!("file://{}", path.display())).await;
    }

    /// Every error the page raised or logged, and every severe entry of the browser's log.
    pub async fn console_errors(&self) -> Vec<String> {
        let collected = self
            .client
            .execute(
                "return window.__testigoErrors || ['the error collector did not run'];",
                vec![],
            )
            .await
            .expect("the page runs a script");
        let mut errors: Vec<String> = collected
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e.as_str().unwrap_or_default().to_owned())
            .collect();
        let log = self
            .client
            .issue_cmd(SessionPost {
                path: "se/log",
                body: json!({ "type": "browser" }),
            })
            .await
            .expect("the browser's log");
        for entry in log.as_array().into_iter().flatten() {
            if entry["level"] == "SEVERE" {
                errors.push(entry["message"].as_str().unwrap_or_default().to_owned());
            }
        }
        errors
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("a query")
            .len()
    }

    /// The text of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("a query")
        {
            out.push(element.text().await.expect("its text"));
        }
        out
    }

    /// Saves a PNG screenshot of the window at `path` and returns its size in bytes.
    pub async fn screenshot(&self, path: &Path) -> usize {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(path, &png).expect("the screenshot is written");
        png.len()
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}

/// A directory for a test's output (screenshots, reports), kept after the run so a failure can
/// be looked at: `<target dir>/test-output/<name>`, found from the test binary's own path
/// (`<target dir>/<profile>/deps/<binary>`).
pub fn output_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .map_or_else(std::env::temp_dir, Path::to_path_buf);
    let dir = target.join("test-output").join(name);
    std::fs::create_dir_all(&dir).expect("the output directory");
    dir
}
